"""The written contract of the Reader API, loaded from the package.

``openapi.yaml`` describes the REST surface and ``contracts/asyncapi.yaml`` the two SSE streams and
the webhook deliveries. This package finds and loads both, validates events and requests against
them, and reads the stream and delivery rules they state. It imports nothing from the HTTP layer.
"""

from ._documents import (
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
from ._events import (
    Channel,
    ContractViolation,
    EventContract,
    EventViolation,
    check_event,
    default_event_contract,
    event_names,
    validate_event,
    validate_webhook_headers,
    validate_webhook_payload,
    webhook_event_names,
)
from ._requests import (
    NO_BODY,
    Issue,
    RequestContract,
    default_request_contract,
    find_operation_id,
    validate_request,
)
from ._rules import StreamRules, WebhookDeliveryRules, stream_rules, webhook_delivery_rules

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
    "StreamRules",
    "WebhookDeliveryRules",
    "asyncapi_path",
    "build_registry",
    "check_event",
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
    "validate_request",
    "validate_webhook_headers",
    "validate_webhook_payload",
    "webhook_delivery_rules",
    "webhook_event_names",
]
