"""One module per compliance test, as the official checker has one module per check. Each module has
TEST (its name), NEEDS (the submission runs it compares with: "performance", "accuracy") and
verify(inputs, out_dir) -> Verdict, which writes the files the official checker reads into out_dir
(the TESTxx directory). A test the rulebook lists without a module here is refused by name."""

from __future__ import annotations

from types import ModuleType

from ...errors import UserError
from . import test01, test04, test05, test06

VERIFIERS: dict[str, ModuleType] = {m.TEST: m for m in (test01, test04, test05, test06)}
PLANNED = ("TEST07", "TEST08", "TEST09")  # gpt-oss-120b, dlrm-v3, e2e-rag: no implemented model needs them yet


def get(test: str) -> ModuleType:
    try:
        return VERIFIERS[test]
    except KeyError:
        known = ", ".join(VERIFIERS)
        raise UserError(f"compliance test {test} has no verifier in mlperfctl yet (implemented: {known}); "
                        f"add mlperfctl/compliance/verifiers/{test.lower()}.py") from None
