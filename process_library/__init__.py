"""The Python operations that service tasks call, and the small customer/system/license store they use.

TODO([service]): the operation registry and the care operations land here; nothing calls into
this package yet.
"""
