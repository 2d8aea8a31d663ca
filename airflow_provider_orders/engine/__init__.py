"""The transports and the paging loop that drive a vendor module.

``core.OrdersEngine`` holds the rules as flows (generators of actions); ``sync.SyncTransport`` carries
them out with ``requests``. An async driver carries out the very same flows with ``httpx``.
"""
