"""One error text for people, whichever entrypoint shows it."""
from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError

from provenant.domain.errors import describe_error, describe_errors


class Order(BaseModel):
    quantity: float = Field(gt=0)
    legs: list[int] = []


def validation_error(**values) -> ValidationError:
    try:
        Order(**values)
    except ValidationError as exc:
        return exc
    raise AssertionError("the values were valid")


def test_a_validation_error_is_one_clause_per_field():
    exc = validation_error(quantity=-1, legs=[1, "x"])
    assert describe_error(exc) == ("quantity: Input should be greater than 0; legs.1: Input "
                                   "should be a valid integer, unable to parse string as an "
                                   "integer")


def test_where_drops_the_request_part_and_names_the_whole_when_nothing_is_left():
    errors = [{"loc": ("body", "payload", "confidence"), "msg": "Value error, too high"},
              {"loc": ("body",), "msg": "Field required"}, {"msg": "broken"}]
    assert describe_errors(errors, whole="artifact") == (
        "payload.confidence: too high; body: Field required; artifact: broken")


def test_any_other_error_is_its_message_or_its_type():
    assert describe_error(ValueError("no such run")) == "no such run"
    assert describe_error(KeyError()) == "KeyError"
