#!/usr/bin/env bash
# `make lock`: re-resolve every lock file in requirements/ from pyproject.toml with uv, hashes included.
#   dev.txt        the bot, operator, test and bench extras with CPU torch: `make test`, `make bench`
#   bot-cpu.txt    the bot extra with CPU torch: `make run`, the bot image
#   bot-cuda.txt   the bot extra with PyPI's CUDA torch: the bot image built with --build-arg TORCH=cuda
#   operator.txt   the operator extra (no torch): the operator image, for every platform
#   torch-*.txt    torch alone, installed first (its own image layer; the CPU one names PyTorch's index)
# The images' locks take their versions from dev.txt, so what ships is what the tests ran.
set -euo pipefail
cd "$(dirname "$0")"
UV="${UV:-uv}"
# the CPU wheel of torch: this machine's wheel directory if it has one, else PyTorch's index
TORCH_LINKS="${TORCH_FIND_LINKS:-https://download.pytorch.org/whl/torch/}"
if [ -z "${TORCH_FIND_LINKS:-}" ] && [ -f /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl ]; then
    TORCH_LINKS=/opt/wheels
fi
compile() {
    "$UV" pip compile --quiet --generate-hashes --python-version 3.11 --custom-compile-command "make lock" "$@"
}
linux=(--python-platform x86_64-manylinux_2_28)
cpu=(--find-links "$TORCH_LINKS" --override torch-cpu.in)

compile "${linux[@]}" "${cpu[@]}" ../pyproject.toml build.in \
    --extra bot --extra operator --extra test --extra bench -o dev.txt
compile "${linux[@]}" "${cpu[@]}" ../pyproject.toml build.in --extra bot -c dev.txt -o bot-cpu.txt
# the same pins as dev.txt, but torch from PyPI (name==version lines only: no hashes)
sed -n 's/^\([A-Za-z0-9][^ ]*==[^ ]*\).*/\1/p' dev.txt | grep -v '^torch==' > .dev-without-torch.txt
compile "${linux[@]}" ../pyproject.toml build.in --extra bot -c .dev-without-torch.txt -o bot-cuda.txt
rm .dev-without-torch.txt
compile --universal ../pyproject.toml build.in --extra operator -c dev.txt -o operator.txt
# torch alone, with its hashes, as the bot's locks pin it; pip must look for the CPU build in PyTorch's
# index (this machine's pip also finds it in its local wheel directory)
torch_only() { sed -n '/^torch==/,/^    # via/p' "$1" | grep -v '# via'; }
{ echo "# torch alone (make lock); installed first: its own image layer"
  echo "--extra-index-url https://download.pytorch.org/whl/cpu"; torch_only bot-cpu.txt; } > torch-cpu.txt
{ echo "# torch alone (make lock); installed first: its own image layer"; torch_only bot-cuda.txt; } > torch-cuda.txt
