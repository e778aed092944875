"""The committed JSON Schemas and OpenAPI document match the models.

A model change that alters the wire format must show up as a diff of these files in review:
run `nudge schemas export` and commit the result.
"""

from __future__ import annotations

from services.schema_docs import published_documents


def test_committed_schema_files_are_current() -> None:
    stale = [
        str(path)
        for path, text in published_documents().items()
        if not path.is_file() or path.read_text() != text
    ]
    assert stale == [], f"regenerate with `nudge schemas export`: {stale}"


def test_shop_events_schema_covers_every_type() -> None:
    documents = {p.name: t for p, t in published_documents().items()}
    schema = documents["shop.events.v1.json"]
    for name in ("OrderPlacedEvent", "CustomerCreatedEvent", "SubscriptionChangedEvent"):
        assert f'"{name}"' in schema


def test_the_segmenter_api_document_is_published_with_its_routes() -> None:
    documents = {str(p): t for p, t in published_documents().items()}
    [document] = [t for p, t in documents.items() if p.endswith("segmenter/api/openapi.json")]
    for path in ("/v1/customers/{customer_id}", "/v1/segments/{segment_id}/members"):
        assert f'"{path}"' in document
