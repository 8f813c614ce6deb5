"""Hugging Face-format checkpoints into flash_offload: config.json + *.safetensors (read with
`safetensors`), tokenizer.json (with `tokenizers`), for the ReLU architectures whose FFN
sparsity LLM in a flash exploits (OPT; the Llama family with hidden_act relu). Builds on lm/
and dense/ (it writes .ekf files and trains their predictors); nothing imports hf/ but the shell."""
