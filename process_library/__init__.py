"""The Python operations that service tasks call, and the small customer/system/license store they use.

``registry`` holds the named operations, ``operations`` registers the care operations, ``store``
holds the customer, system, license, dispatch and outbox tables, ``mail`` delivers customer mail.
"""
