"""Problem texts in the caller's language.

Every problem is written in English where it is raised. When the request asks for
another language (`?lang=ru` or `Accept-Language: ru`, as for the guidance itself), the
title, the detail and every field message are translated here, once, on their way out;
the `type` URI, the status and the field paths stay as they are, so a client can match on
them in any language. A text with no translation stays in English.

A translation is a pattern with named parts (the values: a field name, a number, a media
type) and a template that puts them back; parts that are themselves English (a JSON
parser's complaint) are translated in turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from schemas.case import NOT_AN_OBJECT

# marshmallow's words for "not an object", replaced wherever a schema says them.
ENGLISH = {"Invalid input type.": NOT_AN_OBJECT}

TITLES = {
    "ru": {
        "Bad request": "Некорректный запрос",
        "Bad Request": "Некорректный запрос",
        "Malformed JSON": "Некорректный JSON",
        "Unreadable body": "Тело запроса не прочитано",
        "Unsupported media type": "Неподдерживаемый тип содержимого",
        "Invalid case": "Некорректный случай",
        "Invalid query parameter": "Некорректный параметр запроса",
        "Not ready": "Сервис не готов",
        "Unauthorized": "Нужна авторизация",
        "Too many cases": "Слишком много случаев",
        "Invalid batch": "Некорректный пакет",
        "Line too long": "Слишком длинная строка",
        "Batch timed out": "Пакет не уложился во время",
        "Internal Server Error": "Внутренняя ошибка сервера",
        "Not Found": "Не найдено",
        "Method Not Allowed": "Метод не разрешён",
        "Request Entity Too Large": "Слишком большое тело запроса",
        "Request Timeout": "Время ожидания запроса истекло",
        "Unsupported Media Type": "Неподдерживаемый тип содержимого",
    }
}


# JSON parser complaints (Python's json module), inside "Malformed JSON at ...".
_JSON = {
    "ru": {
        "Expecting value": "ожидалось значение",
        "Expecting ',' delimiter": "ожидалась запятая",
        "Expecting ':' delimiter": "ожидалось двоеточие",
        "Expecting property name enclosed in double quotes": "ожидалось имя поля в двойных кавычках",  # noqa: E501
        "Extra data": "лишние данные после документа",
        "Invalid control character at": "недопустимый управляющий символ",
        "Invalid \\escape": "недопустимая escape-последовательность",
        "Invalid \\uXXXX escape": "недопустимая последовательность \\uXXXX",
        "Unterminated string starting at": "незакрытая строка",
        "Illegal trailing comma before end of object": "лишняя запятая перед концом объекта",
        "Illegal trailing comma before end of array": "лишняя запятая перед концом массива",
    }
}


def _json(lang: str) -> Callable[[str], str]:
    return lambda text: _JSON[lang].get(text, text)


# (pattern, template, {part: how to translate it}) per language, tried in order.
_RU: list[tuple[str, str, dict]] = [
    # field messages
    (r"Expected a JSON object\.", "Ожидался объект JSON.", {}),
    (r"Unknown field\.", "Неизвестное поле.", {}),
    (
        r"Unknown field; did you mean `(?P<name>[^`]*)`\?",
        "Неизвестное поле; может быть, `{name}`?",
        {},
    ),
    (
        r"Not a valid boolean: expected true or false\.",
        "Не логическое значение: ожидалось true или false.",
        {},
    ),
    (r"Not a valid boolean\.", "Не логическое значение.", {}),
    (r"Not a valid integer\.", "Не целое число.", {}),
    (r"Not a valid string\.", "Не строка.", {}),
    (r"Not a valid utf-8 string\.", "Не строка UTF-8.", {}),
    (r"Not a valid list\.", "Не список.", {}),
    (r"Not a valid mapping type\.", "Не объект.", {}),
    (r"Number too large\.", "Слишком большое число.", {}),
    (r"Field may not be null\.", "Поле не может быть null.", {}),
    (r"Missing data for required field\.", "Обязательное поле не указано.", {}),
    (r"Invalid value\.", "Недопустимое значение.", {}),
    (r"Invalid type\.", "Недопустимый тип.", {}),
    (r"Must be one of: (?P<choices>.*)\.", "Допустимые значения: {choices}.", {}),
    (
        r"Must be greater than or equal to (?P<min>\S+) and less than or equal to (?P<max>\S+)\.",
        "Должно быть от {min} до {max}.",
        {},
    ),
    (r"Must be greater than or equal to (?P<min>\S+)\.", "Должно быть не меньше {min}.", {}),
    (r"Must be less than or equal to (?P<max>\S+)\.", "Должно быть не больше {max}.", {}),
    (r"Shorter than minimum length (?P<min>\d+)\.", "Короче минимальной длины {min}.", {}),
    (r"Longer than maximum length (?P<max>\d+)\.", "Длиннее максимальной длины {max}.", {}),
    (
        r"Length must be between (?P<min>\d+) and (?P<max>\d+)\.",
        "Длина должна быть от {min} до {max}.",
        {},
    ),
    (r"Duplicate values: (?P<values>.*)\.", "Повторяющиеся значения: {values}.", {}),
    (r"(?P<value>'.*') is not true or false\.", "{value} — не true и не false.", {}),
    # details
    (
        r"The case does not match the schema; see `errors`\.",
        "Случай не соответствует схеме; подробности в `errors`.",
        {},
    ),
    (
        r"Facts of the case contradict each other; see `errors`\.",
        "Факты случая противоречат друг другу; подробности в `errors`.",
        {},
    ),
    (
        r"Contradicts (?P<said>.*), which implies (?P<name>[\w.]+): (?P<value>.*) \((?P<why>.*)\)\.",  # noqa: E501
        "Противоречит {said}: отсюда следует {name}: {value} ({why}).",
        {},
    ),
    (
        r"Implies (?P<name>[\w.]+): (?P<value>.*), but the case says (?P<said>.*)\.",
        "Отсюда следует {name}: {value}, а в случае указано {said}.",
        {},
    ),
    (
        r'The body must be \{"cases": \[\.\.\.\]\}; see `errors`\.',
        'Тело должно иметь вид {{"cases": [...]}}; подробности в `errors`.',
        {},
    ),
    (
        r"Query parameter (?P<name>'[^']*') must be true or false\.",
        "Параметр запроса {name} должен быть true или false.",
        {},
    ),
    (
        r"Send the case as application/json, not (?P<type>.*)\.",
        "Отправьте случай как application/json, а не {type}.",
        {"type": "media"},
    ),
    (
        r"Send the cases as application/json or application/x-ndjson, not (?P<type>.*)\.",
        "Отправьте случаи как application/json или application/x-ndjson, а не {type}.",
        {"type": "media"},
    ),
    (
        r"Malformed JSON at line (?P<line>\d+), column (?P<column>\d+): (?P<reason>.*?)(?: "
        r"\(char \d+\))?\.",
        "Некорректный JSON в строке {line}, столбце {column}: {reason}.",
        {"reason": "json"},
    ),
    (
        r"Malformed JSON at column (?P<column>\d+): (?P<reason>.*?)(?: \(char \d+\))?\.",
        "Некорректный JSON в столбце {column}: {reason}.",
        {"reason": "json"},
    ),
    (r"Duplicate key (?P<key>.*) in an object\.", "Повторяющийся ключ {key} в объекте.", {}),
    (r"(?P<name>NaN|-?Infinity) is not a JSON number\.", "{name} — не число JSON.", {}),
    (
        r"A number with (?P<digits>\d+) digits is too long\.",
        "Число из {digits} цифр слишком длинное.",
        {},
    ),
    (
        r"The body is not valid UTF-8 \(byte (?P<byte>\d+)\)\.",
        "Тело запроса — не корректный UTF-8 (байт {byte}).",
        {},
    ),
    (r"The JSON is nested too deeply\.", "Слишком глубокая вложенность JSON.", {}),
    (
        r"A string holds a lone surrogate (?P<code>\\u[0-9a-f]{4}): not a Unicode character\.",
        "Строка содержит одиночный суррогат {code}: это не символ Unicode.",
        {},
    ),
    (
        r"The body is larger than the limit of (?P<limit>\d+) bytes\.",
        "Тело запроса больше предела в {limit} байт.",
        {},
    ),
    (
        r"The request body stopped arriving before its end\.",
        "Тело запроса перестало поступать, не дойдя до конца.",
        {},
    ),
    (
        r"The request body could not be read: (?P<error>\w+)\.",
        "Тело запроса не удалось прочитать: {error}.",
        {},
    ),
    (
        r"The body ended after (?P<got>\d+) of the (?P<expected>\d+) bytes its Content-Length "
        r"announced\.",
        "Тело запроса закончилось после {got} из {expected} байт, объявленных в Content-Length.",
        {},
    ),
    (
        r"The request body could not be read to its end; the results above are complete, no "
        r"summary follows\.",
        "Тело запроса не удалось дочитать до конца; результаты выше полные, итогов не будет.",
        {},
    ),
    (
        r"(?P<count>\d+) cases is more than the limit of (?P<limit>\d+) per request; split them, or "  # noqa: E501
        r"stream them as application/x-ndjson\.",
        "{count} случаев больше предела в {limit} на запрос; разделите их или передайте потоком "
        "как application/x-ndjson.",
        {},
    ),
    (
        r"The batch took longer than (?P<timeout>\d+) s and was stopped after (?P<done>\d+) of "
        r"(?P<count>\d+) cases; send fewer cases per request, or stream them as "
        r"application/x-ndjson\.",
        "Пакет занял больше {timeout} с и был остановлен после {done} из {count} случаев; "
        "отправляйте меньше случаев за запрос или передайте их потоком как application/x-ndjson.",
        {},
    ),
    (r"Line (?P<line>\d+): (?P<text>.+)", "Строка {line}: {text}", {"text": "text"}),
    (
        r"Line (?P<line>\d+) is longer than (?P<limit>\d+) bytes; it was skipped\.",
        "Строка {line} длиннее {limit} байт; она пропущена.",
        {},
    ),
    (
        r"Send `Authorization: Bearer <API key>`\.",
        "Отправьте `Authorization: Bearer <API-ключ>`.",
        {},
    ),
    (r"The API key is not valid\.", "API-ключ недействителен.", {}),
    (r"The probe case failed: (?P<error>\w+)\.", "Пробный случай не прошёл: {error}.", {}),
    (
        r"The rule engine failed on this case; it has been logged\.",
        "Движок правил не справился с этим случаем; ошибка записана в журнал.",
        {},
    ),
    (
        r"The server failed on this request; it has been logged\.",
        "Сервер не справился с этим запросом; ошибка записана в журнал.",
        {},
    ),
    (
        r"The requested URL was not found on the server\..*",
        "Запрошенный адрес на сервере не найден; проверьте путь.",
        {},
    ),
    (
        r"The method is not allowed for the requested URL\.",
        "Этот метод для запрошенного адреса не разрешён.",
        {},
    ),
]

_PARTS: dict[str, dict[str, Callable[[str], str]]] = {
    "ru": {
        "json": _json("ru"),
        "text": lambda text: translate(text, "ru"),
        "media": lambda text: "тело без типа" if text == "a body without a type" else text,
    },
}
_CATALOGUE = {
    "ru": [
        (re.compile(pattern + r"\Z", re.DOTALL), template, parts)
        for pattern, template, parts in _RU
    ]
}
LANGS = tuple(_CATALOGUE)


def translate(text: str, lang: str) -> str:
    """`text` in `lang`; itself when there is no translation."""
    catalogue = _CATALOGUE.get(lang)
    if not catalogue or not isinstance(text, str):
        return text
    for pattern, template, parts in catalogue:
        match = pattern.match(text)
        if match:
            values = {
                name: _PARTS[lang][parts[name]](value) if name in parts else value
                for name, value in match.groupdict().items()
            }
            return template.format(**values)
    return text


def title(text: str, lang: str) -> str:
    return TITLES.get(lang, {}).get(text, text)


def localize(body: dict[str, Any], lang: str) -> dict[str, Any]:
    """A problem body with its title, detail and field messages in `lang` (a new dict)."""
    if lang not in _CATALOGUE:
        return body
    out = dict(body)
    out["title"] = title(body["title"], lang)
    out["detail"] = translate(body["detail"], lang)
    if body.get("errors"):
        out["errors"] = {
            path: [translate(m, lang) for m in messages]
            for path, messages in body["errors"].items()
        }
    return out
