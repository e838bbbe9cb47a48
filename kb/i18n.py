"""The system's own words, in the asker's language."""
# ruff: noqa: E501

from __future__ import annotations

from collections.abc import Iterable

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "lead_in": "Here is what the sources say:",
        "not_covered": "Sorry, the sources don't cover this question. Try rephrasing it, or ask about something the articles discuss.",
        "not_mentioned": "Sorry, the sources don't mention {names}, so they can't answer this question.",
        "sources": "Sources",
        "alternative": "also in",
        "fallback_notice": "The language model could not be used; this answer quotes the sources directly.",
    },
    "pt": {
        "lead_in": "Eis o que dizem as fontes:",
        "not_covered": "Desculpe, as fontes não tratam desta pergunta. Experimente reformulá-la ou perguntar sobre um assunto de que os artigos falem.",
        "not_mentioned": "Desculpe, as fontes não mencionam {names}, por isso não podem responder a esta pergunta.",
        "sources": "Fontes",
        "alternative": "também em",
        "fallback_notice": "Não foi possível usar o modelo de linguagem; esta resposta cita as fontes diretamente.",
    },
    "es": {
        "lead_in": "Esto es lo que dicen las fuentes:",
        "not_covered": "Lo siento, las fuentes no tratan esta pregunta. Prueba a reformularla o a preguntar por algún tema del que hablen los artículos.",
        "not_mentioned": "Lo siento, las fuentes no mencionan {names}, así que no pueden responder a esta pregunta.",
        "sources": "Fuentes",
        "alternative": "también en",
        "fallback_notice": "No se pudo usar el modelo de lenguaje; esta respuesta cita las fuentes directamente.",
    },
    "ro": {
        "lead_in": "Iată ce spun sursele:",
        "not_covered": "Ne pare rău, sursele nu acoperă această întrebare. Încercați să o reformulați sau să întrebați despre un subiect tratat în articole.",
        "not_mentioned": "Ne pare rău, sursele nu menționează {names}, așa că nu pot răspunde la această întrebare.",
        "sources": "Surse",
        "alternative": "și în",
        "fallback_notice": "Modelul de limbaj nu a putut fi folosit; acest răspuns citează direct sursele.",
    },
    "ar": {
        "lead_in": "إليك ما تقوله المصادر:",
        "not_covered": "عذرًا، المصادر لا تتناول هذا السؤال. جرّب إعادة صياغته أو السؤال عن موضوع تتناوله المقالات.",
        "not_mentioned": "عذرًا، المصادر لا تذكر {names}، لذا لا يمكنها الإجابة عن هذا السؤال.",
        "sources": "المصادر",
        "alternative": "متوفر أيضًا بـ",
        "fallback_notice": "تعذّر استخدام النموذج اللغوي؛ هذه الإجابة تقتبس من المصادر مباشرة.",
    },
    "fr": {
        "lead_in": "Voici ce que disent les sources :",
        "not_covered": "Désolé, les sources ne traitent pas de cette question. Essayez de la reformuler ou de poser une question sur un sujet abordé dans les articles.",
        "not_mentioned": "Désolé, les sources ne mentionnent pas {names}, elles ne peuvent donc pas répondre à cette question.",
        "sources": "Sources",
        "alternative": "aussi en",
        "fallback_notice": "Le modèle de langage n'a pas pu être utilisé ; cette réponse cite directement les sources.",
    },
    "de": {
        "lead_in": "Das sagen die Quellen:",
        "not_covered": "Leider behandeln die Quellen diese Frage nicht. Formulieren Sie sie um oder fragen Sie nach einem Thema, das die Artikel behandeln.",
        "not_mentioned": "Leider erwähnen die Quellen {names} nicht und können diese Frage daher nicht beantworten.",
        "sources": "Quellen",
        "alternative": "auch auf",
        "fallback_notice": "Das Sprachmodell war nicht erreichbar; diese Antwort zitiert die Quellen direkt.",
    },
    "it": {
        "lead_in": "Ecco cosa dicono le fonti:",
        "not_covered": "Spiacente, le fonti non trattano questa domanda. Prova a riformularla o a chiedere di un argomento trattato negli articoli.",
        "not_mentioned": "Spiacente, le fonti non menzionano {names}, quindi non possono rispondere a questa domanda.",
        "sources": "Fonti",
        "alternative": "anche in",
        "fallback_notice": "Non è stato possibile usare il modello linguistico; questa risposta cita direttamente le fonti.",
    },
}


LIST_SEPARATORS = {"ar": "، "}


def listing(items: Iterable[str], language: str) -> str:
    """``items`` as a list in running text: "Shopify, WooCommerce"."""
    return LIST_SEPARATORS.get(language, ", ").join(items)


def message(key: str, language: str) -> str:
    return MESSAGES.get(language, MESSAGES["en"]).get(key) or MESSAGES["en"][key]
