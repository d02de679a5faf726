"""Build cells' images: each stage a content-addressed image, shared stages once.

- `stages`: a cell's stages, their content hashes and tags (the values a plan is made of);
- `plan`: render each cell and plan its stages (no engine needed, except for base image IDs);
- `external`: fetch an external implementation's source at its pinned ref;
- `executor`: build plans on a container engine, normalise, push; `ensure_image` for `run`;
- `context`, `normalize`, `lock`, `wheels`: build contexts, reproducible images, hashed locks,
  local wheels; `bundle`: image states, offline bundles and a local Debian base.
"""
