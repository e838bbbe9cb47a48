"""The system's own words in the asker's language: answer messages, the chat's and the widget's labels.

One file a language in ``locales/``, read through :mod:`kb.i18n.lookup`.
"""
