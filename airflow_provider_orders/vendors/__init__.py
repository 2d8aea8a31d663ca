"""One module per vendor: its requests, pages, states and errors, free of I/O.

Each vendor module declares its ``SPEC`` (see :mod:`airflow_provider_orders.registry`); the shared
parts are ``base`` (the :class:`~airflow_provider_orders.vendors.base.Vendor` class), ``http``,
``listing``, ``paging``, ``filters``, ``settings`` and ``parsing``.
"""
