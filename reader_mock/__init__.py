"""reader-mock: a local mock of the Reader API and a contract test kit for its streams."""

__all__: list[str] = []
