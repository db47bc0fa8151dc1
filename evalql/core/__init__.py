"""The interface-neutral core: the vocabulary (enums, values, formats, field types,
problems), the requests (the group request, the feedback record) and their mapping onto the
queries. REST (`evalql.rest`) and GraphQL (`evalql.schema`) both stand on it; it imports
neither (see ARCHITECTURE.md and tests/test_layers.py)."""
