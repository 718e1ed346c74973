"""The written contract of the Reader API, loaded from the package.

``openapi.yaml`` describes the REST surface and ``contracts/asyncapi.yaml`` the two SSE streams and
the webhook deliveries. This package finds and loads both (:mod:`.documents`), validates events
(:mod:`.events`), requests (:mod:`.requests`) and whole streams (:mod:`.streams`) against them,
and reads the stream and delivery rules they state (:mod:`.rules`). It imports nothing from the
HTTP layer. The names below load on first use: ``Channel`` costs no YAML or JSON Schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

if TYPE_CHECKING:
    from .channels import Channel
    from .documents import (
        ASYNCAPI_URI,
        OPENAPI_URI,
        ContractError,
        asyncapi_path,
        build_registry,
        contract_registry,
        load_asyncapi,
        load_openapi,
        load_yaml_document,
        openapi_path,
        spec_root,
    )
    from .events import (
        ContractViolation,
        EventContract,
        EventViolation,
        check_event,
        check_webhook_headers,
        check_webhook_payload,
        default_event_contract,
        event_names,
        validate_event,
        webhook_event_names,
    )
    from .requests import (
        NO_BODY,
        Issue,
        RequestContract,
        check_request,
        default_request_contract,
        find_operation_id,
    )
    from .rules import StreamRules, WebhookDeliveryRules, stream_rules, webhook_delivery_rules
    from .streams import StreamChecker, StreamViolation, ViolationKind, check_stream

__all__ = [
    "ASYNCAPI_URI",
    "NO_BODY",
    "OPENAPI_URI",
    "Channel",
    "ContractError",
    "ContractViolation",
    "EventContract",
    "EventViolation",
    "Issue",
    "RequestContract",
    "StreamChecker",
    "StreamRules",
    "StreamViolation",
    "ViolationKind",
    "WebhookDeliveryRules",
    "asyncapi_path",
    "build_registry",
    "check_event",
    "check_request",
    "check_stream",
    "check_webhook_headers",
    "check_webhook_payload",
    "contract_registry",
    "default_event_contract",
    "default_request_contract",
    "event_names",
    "find_operation_id",
    "load_asyncapi",
    "load_openapi",
    "load_yaml_document",
    "openapi_path",
    "spec_root",
    "stream_rules",
    "validate_event",
    "webhook_delivery_rules",
    "webhook_event_names",
]

_MODULES = {
    "channels": ["Channel"],
    "documents": [
        "ASYNCAPI_URI",
        "OPENAPI_URI",
        "ContractError",
        "asyncapi_path",
        "build_registry",
        "contract_registry",
        "load_asyncapi",
        "load_openapi",
        "load_yaml_document",
        "openapi_path",
        "spec_root",
    ],
    "events": [
        "ContractViolation",
        "EventContract",
        "EventViolation",
        "validate_event",
        "default_event_contract",
        "event_names",
        "check_event",
        "check_webhook_headers",
        "check_webhook_payload",
        "webhook_event_names",
    ],
    "requests": [
        "NO_BODY",
        "Issue",
        "RequestContract",
        "default_request_contract",
        "find_operation_id",
        "check_request",
    ],
    "rules": ["StreamRules", "WebhookDeliveryRules", "stream_rules", "webhook_delivery_rules"],
    "streams": ["StreamChecker", "StreamViolation", "ViolationKind", "check_stream"],
}

__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
