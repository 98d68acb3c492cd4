"""Web Push: VAPID keys (vapid.py) and sending one notification (client.py).

Framework-free on purpose: the Flask app uses it to show the browser the public key, and the
standalone reminder dispatcher uses it to send. Neither flask nor sqlalchemy is imported here.
"""
