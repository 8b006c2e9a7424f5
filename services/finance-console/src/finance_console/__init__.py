"""The finance web console: server-rendered pages over the cluster's finance APIs.

It signs users in (``var/console-users.json`` locally), keeps their session in a signed
HttpOnly cookie, and calls the services' APIs server-side with the service token of the
user's role; it keeps no data of its own.
"""
