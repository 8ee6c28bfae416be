"""carecenter's workflow runtime: deployments, instances, human tasks and history on SpiffWorkflow.

Nothing in this package imports Flask; the web layer in ``api/`` only calls the
small public surfaces of the service modules here.
"""
