"""RNN-T: the official sources `mlperfctl get` fetches (see workloads/sources.py).

The dataset's md5 is published by the reference (speech2text/utils/inference_librispeech.csv; the retired rnnt
reference lists the same); it lists openslr's http URL, whose https twin is declared here. The model's checksum is
not published (get refuses it unless --no-verify, then records the sha256 it computed)."""

from ..sources import Source

SOURCES = {
    "rnnt": (
        Source(name="LibriSpeech dev-clean", url="https://www.openslr.org/resources/12/dev-clean.tar.gz",
               path="datasets/librispeech/dev-clean.tar.gz", kind="dataset", md5="42e2234ba48799c1f50f24a7926300a1",
               checksum_from="mlcommons/inference speech2text/utils/inference_librispeech.csv",
               licence="CC-BY-4.0"),
        Source(name="RNN-T PyTorch checkpoint (epoch 100)",
               url="https://zenodo.org/record/3662521/files/DistributedDataParallel_1576581068.9962234-epoch-100.pt"
                   "?download=1",
               path="models/DistributedDataParallel_1576581068.9962234-epoch-100.pt", backends=("pytorch",),
               licence="Apache-2.0 (MLCommons, zenodo)"),
    ),
}
