"""The host side of token ids: a Hugging Face tokenizer.json (read with `tokenizers`), checked
against the model's vocabulary, or UTF-8 bytes for the byte-level toy."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from edgekiln.errors import InputError


class TokenizerError(InputError):
    pass


class HfTokenizer:
    """encode(text) -> ids, decode(ids) -> text, over a tokenizer.json's vocabulary."""

    def __init__(self, tok, source: str, data: bytes):
        self._tok, self.source, self.data = tok, source, data

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "tokenizer.json") -> "HfTokenizer":
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise InputError("reading tokenizer.json needs the `tokenizers` package: pip install 'edgekiln[hf]'") from None
        try:
            tok = Tokenizer.from_str(data.decode("utf-8"))
        except Exception as e:  # tokenizers raises plain Exception subclasses
            raise TokenizerError(f"{source} is not a readable tokenizer.json ({str(e).splitlines()[0][:200]})") from None
        return cls(tok, source, data)

    @classmethod
    def from_file(cls, path: str | Path) -> "HfTokenizer":
        p = Path(path)
        if not p.is_file():
            raise TokenizerError(f"{p}: no such tokenizer file")
        return cls.from_bytes(p.read_bytes(), str(p))

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def max_id(self) -> int:
        return max(self._tok.get_vocab(with_added_tokens=True).values(), default=-1)

    def check_vocab(self, V: int) -> None:
        """Every id the tokenizer can produce must be a row of the model's embedding (V rows)."""
        top = self.max_id()
        if top >= V:
            raise TokenizerError(f"{self.source} does not match the model: its ids go up to {top} "
                                 f"({self.vocab_size} tokens) but the model's vocabulary has {V}; "
                                 "use the tokenizer saved with this checkpoint")

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)


class ByteTokenizer:
    """The byte-level toy: token = UTF-8 byte."""

    source = "bytes"
    vocab_size = 256

    def check_vocab(self, V: int) -> None:
        if V < 256:
            raise TokenizerError(f"byte-level text needs a vocabulary of 256, the model has {V}")

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")
