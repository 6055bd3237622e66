"""The one LLM client every LLM stage uses, and the request/result records it speaks."""
