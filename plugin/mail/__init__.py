"""E-mail: receipts of export runs to each course's `notify` list, alerts to `mail.admins`.

Exports and other processes only record what is to be sent; the scheduler process sends it.
"""
