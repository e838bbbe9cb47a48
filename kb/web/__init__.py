"""The web server: the JSON API, the chat page, the widget's files, and the guards in front of them."""
