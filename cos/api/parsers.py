"""The provider API's JSON parser: a body nested deeper than MAX_DEPTH, or with a NUL character in a string, is
refused as a parse error (400), never a server error."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _check(value, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(f"The JSON is nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        if "\x00" in value:
            raise ParseError("The JSON holds a NUL character.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The JSON is nested deeper than {MAX_DEPTH} levels.") from None
        except (ValueError, json.JSONDecodeError) as exc:  # e.g. bytes that are not UTF-8
            raise ParseError(f"The body is not valid JSON: {exc}") from None
        _check(data)
        return data
