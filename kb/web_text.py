"""The chat page's own words, in the asker's language once it is known."""
# ruff: noqa: E501

from __future__ import annotations

DEFAULT = "en"

UI: dict[str, dict[str, str]] = {
    "en": {
        "placeholder": "Ask a question in any language…",
        "ask": "Ask",
        "clear": "New conversation",
        "sources": "Sources",
        "sources_empty": "The passages an answer cites appear here. Click a [n] marker to jump to its passage.",
        "open_article": "Open the whole article",
        "thanks_up": "Thanks! Your rating was saved.",
        "thanks_down": "Thanks! We will look at this answer.",
        "examples": "Examples",
        "thinking": "Searching the sources…",
    },
    "es": {
        "placeholder": "Haz una pregunta en cualquier idioma…",
        "ask": "Preguntar",
        "clear": "Nueva conversación",
        "sources": "Fuentes",
        "sources_empty": "Aquí aparecen los pasajes que cita una respuesta. Pulsa un marcador [n] para ir a su pasaje.",
        "open_article": "Abrir el artículo completo",
        "thanks_up": "¡Gracias! Tu valoración se ha guardado.",
        "thanks_down": "¡Gracias! Revisaremos esta respuesta.",
        "examples": "Ejemplos",
        "thinking": "Buscando en las fuentes…",
    },
    "pt": {
        "placeholder": "Faça uma pergunta em qualquer língua…",
        "ask": "Perguntar",
        "clear": "Nova conversa",
        "sources": "Fontes",
        "sources_empty": "Aqui aparecem as passagens citadas numa resposta. Clique num marcador [n] para ir à passagem.",
        "open_article": "Abrir o artigo completo",
        "thanks_up": "Obrigado! A sua avaliação foi guardada.",
        "thanks_down": "Obrigado! Vamos rever esta resposta.",
        "examples": "Exemplos",
        "thinking": "A procurar nas fontes…",
    },
    "ro": {
        "placeholder": "Puneți o întrebare în orice limbă…",
        "ask": "Întreabă",
        "clear": "Conversație nouă",
        "sources": "Surse",
        "sources_empty": "Aici apar pasajele citate într-un răspuns. Apăsați un marcaj [n] pentru a ajunge la pasaj.",
        "open_article": "Deschide articolul întreg",
        "thanks_up": "Mulțumim! Evaluarea a fost salvată.",
        "thanks_down": "Mulțumim! Vom analiza acest răspuns.",
        "examples": "Exemple",
        "thinking": "Se caută în surse…",
    },
    "ar": {
        "placeholder": "اطرح سؤالاً بأي لغة…",
        "ask": "اسأل",
        "clear": "محادثة جديدة",
        "sources": "المصادر",
        "sources_empty": "تظهر هنا المقاطع التي تستشهد بها الإجابة. انقر على علامة [n] للانتقال إلى مقطعها.",
        "open_article": "افتح المقال كاملاً",
        "thanks_up": "شكرًا! تم حفظ تقييمك.",
        "thanks_down": "شكرًا! سنراجع هذه الإجابة.",
        "examples": "أمثلة",
        "thinking": "جارٍ البحث في المصادر…",
    },
    "fr": {
        "placeholder": "Posez une question dans n'importe quelle langue…",
        "ask": "Demander",
        "clear": "Nouvelle conversation",
        "sources": "Sources",
        "sources_empty": "Les passages cités par une réponse apparaissent ici. Cliquez sur un repère [n] pour atteindre son passage.",
        "open_article": "Ouvrir l'article complet",
        "thanks_up": "Merci ! Votre avis a été enregistré.",
        "thanks_down": "Merci ! Nous examinerons cette réponse.",
        "examples": "Exemples",
        "thinking": "Recherche dans les sources…",
    },
    "de": {
        "placeholder": "Stellen Sie eine Frage in einer beliebigen Sprache…",
        "ask": "Fragen",
        "clear": "Neues Gespräch",
        "sources": "Quellen",
        "sources_empty": "Hier erscheinen die Passagen, die eine Antwort zitiert. Klicken Sie auf eine Markierung [n], um zur Passage zu springen.",
        "open_article": "Ganzen Artikel öffnen",
        "thanks_up": "Danke! Ihre Bewertung wurde gespeichert.",
        "thanks_down": "Danke! Wir sehen uns diese Antwort an.",
        "examples": "Beispiele",
        "thinking": "Quellen werden durchsucht…",
    },
    "it": {
        "placeholder": "Fai una domanda in qualsiasi lingua…",
        "ask": "Chiedi",
        "clear": "Nuova conversazione",
        "sources": "Fonti",
        "sources_empty": "Qui compaiono i passaggi citati da una risposta. Fai clic su un segno [n] per andare al passaggio.",
        "open_article": "Apri l'articolo completo",
        "thanks_up": "Grazie! La tua valutazione è stata salvata.",
        "thanks_down": "Grazie! Esamineremo questa risposta.",
        "examples": "Esempi",
        "thinking": "Ricerca nelle fonti…",
    },
}

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "ro": "Română",
    "ar": "العربية",
    "fr": "Français",
    "de": "Deutsch",
    "it": "Italiano",
}


def ui(key: str, language: str | None) -> str:
    return UI.get(language or DEFAULT, UI[DEFAULT]).get(key) or UI[DEFAULT][key]


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
