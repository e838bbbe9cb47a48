"""The system's own words, in the asker's language."""
# ruff: noqa: E501

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "lead_in": "Here is what the sources say:",
        "not_covered": "Sorry, the sources don't cover this question. Try asking about omnichannel and multichannel strategy.",
        "sources": "Sources",
        "alternative": "also in",
        "fallback_notice": "The language model could not be used; this answer quotes the sources directly.",
    },
    "pt": {
        "lead_in": "Eis o que dizem as fontes:",
        "not_covered": "Desculpe, as fontes não tratam desta pergunta. Experimente perguntar sobre estratégias omnicanal e multicanal.",
        "sources": "Fontes",
        "alternative": "também em",
        "fallback_notice": "Não foi possível usar o modelo de linguagem; esta resposta cita as fontes diretamente.",
    },
    "es": {
        "lead_in": "Esto es lo que dicen las fuentes:",
        "not_covered": "Lo siento, las fuentes no tratan esta pregunta. Prueba a preguntar sobre estrategias omnicanal y multicanal.",
        "sources": "Fuentes",
        "alternative": "también en",
        "fallback_notice": "No se pudo usar el modelo de lenguaje; esta respuesta cita las fuentes directamente.",
    },
    "ro": {
        "lead_in": "Iată ce spun sursele:",
        "not_covered": "Ne pare rău, sursele nu acoperă această întrebare. Încercați să întrebați despre strategiile omnichannel și multichannel.",
        "sources": "Surse",
        "alternative": "și în",
        "fallback_notice": "Modelul de limbaj nu a putut fi folosit; acest răspuns citează direct sursele.",
    },
    "ar": {
        "lead_in": "إليك ما تقوله المصادر:",
        "not_covered": "عذرًا، المصادر لا تتناول هذا السؤال. جرّب السؤال عن استراتيجيات القنوات المتعددة والقنوات الشاملة.",
        "sources": "المصادر",
        "alternative": "متوفر أيضًا بـ",
        "fallback_notice": "تعذّر استخدام النموذج اللغوي؛ هذه الإجابة تقتبس من المصادر مباشرة.",
    },
    "fr": {
        "lead_in": "Voici ce que disent les sources :",
        "not_covered": "Désolé, les sources ne traitent pas de cette question. Essayez de poser une question sur les stratégies omnicanal et multicanal.",
        "sources": "Sources",
        "alternative": "aussi en",
        "fallback_notice": "Le modèle de langage n'a pas pu être utilisé ; cette réponse cite directement les sources.",
    },
    "de": {
        "lead_in": "Das sagen die Quellen:",
        "not_covered": "Leider behandeln die Quellen diese Frage nicht. Fragen Sie zum Beispiel nach Omnichannel- und Multichannel-Strategien.",
        "sources": "Quellen",
        "alternative": "auch auf",
        "fallback_notice": "Das Sprachmodell war nicht erreichbar; diese Antwort zitiert die Quellen direkt.",
    },
    "it": {
        "lead_in": "Ecco cosa dicono le fonti:",
        "not_covered": "Spiacente, le fonti non trattano questa domanda. Prova a chiedere delle strategie omnicanale e multicanale.",
        "sources": "Fonti",
        "alternative": "anche in",
        "fallback_notice": "Non è stato possibile usare il modello linguistico; questa risposta cita direttamente le fonti.",
    },
}


def message(key: str, language: str) -> str:
    return MESSAGES.get(language, MESSAGES["en"]).get(key) or MESSAGES["en"][key]
