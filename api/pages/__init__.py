"""The HTML pages, one module per audience: sign-in, staff, designer, customer tracking and portal.

The JSON API lives in :mod:`api.routes`; pages call the same engine services with the same
policy scope, so a page never shows or does more than the API allows. :mod:`api.app` registers
each module's blueprint; errors on pages are pages too (:mod:`api.pages.errors`).
"""
