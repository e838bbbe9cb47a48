"""The system's own words, in the asker's language."""
# ruff: noqa: E501

from __future__ import annotations

from collections.abc import Iterable

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "lead_in": "Here is what the sources say:",
        "not_covered": "Sorry, the sources don't cover this question. Try rephrasing it, or ask about something the articles discuss.",
        "not_mentioned": "Sorry, the sources don't mention {names}, so they can't answer this question.",
        "partly_covered": "The sources don't mention {names}. On the rest of the question, here is what they say:",
        "sources": "Sources",
        "alternative": "also in",
        "fallback_notice": "The language model could not be used; this answer quotes the sources directly.",
    },
    "pt": {
        "lead_in": "Eis o que dizem as fontes:",
        "not_covered": "Desculpe, as fontes não tratam desta pergunta. Experimente reformulá-la ou perguntar sobre um assunto de que os artigos falem.",
        "not_mentioned": "Desculpe, as fontes não mencionam {names}, por isso não podem responder a esta pergunta.",
        "partly_covered": "As fontes não mencionam {names}. Sobre o resto da pergunta, eis o que dizem:",
        "sources": "Fontes",
        "alternative": "também em",
        "fallback_notice": "Não foi possível usar o modelo de linguagem; esta resposta cita as fontes diretamente.",
    },
    "es": {
        "lead_in": "Esto es lo que dicen las fuentes:",
        "not_covered": "Lo siento, las fuentes no tratan esta pregunta. Prueba a reformularla o a preguntar por algún tema del que hablen los artículos.",
        "not_mentioned": "Lo siento, las fuentes no mencionan {names}, así que no pueden responder a esta pregunta.",
        "partly_covered": "Las fuentes no mencionan {names}. Sobre el resto de la pregunta, esto es lo que dicen:",
        "sources": "Fuentes",
        "alternative": "también en",
        "fallback_notice": "No se pudo usar el modelo de lenguaje; esta respuesta cita las fuentes directamente.",
    },
    "ro": {
        "lead_in": "Iată ce spun sursele:",
        "not_covered": "Ne pare rău, sursele nu acoperă această întrebare. Încercați să o reformulați sau să întrebați despre un subiect tratat în articole.",
        "not_mentioned": "Ne pare rău, sursele nu menționează {names}, așa că nu pot răspunde la această întrebare.",
        "partly_covered": "Sursele nu menționează {names}. Despre restul întrebării, iată ce spun:",
        "sources": "Surse",
        "alternative": "și în",
        "fallback_notice": "Modelul de limbaj nu a putut fi folosit; acest răspuns citează direct sursele.",
    },
    "ar": {
        "lead_in": "إليك ما تقوله المصادر:",
        "not_covered": "عذرًا، المصادر لا تتناول هذا السؤال. جرّب إعادة صياغته أو السؤال عن موضوع تتناوله المقالات.",
        "not_mentioned": "عذرًا، المصادر لا تذكر {names}، لذا لا يمكنها الإجابة عن هذا السؤال.",
        "partly_covered": "المصادر لا تذكر {names}. أما عن بقية السؤال، فإليك ما تقوله:",
        "sources": "المصادر",
        "alternative": "متوفر أيضًا بـ",
        "fallback_notice": "تعذّر استخدام النموذج اللغوي؛ هذه الإجابة تقتبس من المصادر مباشرة.",
    },
    "fr": {
        "lead_in": "Voici ce que disent les sources :",
        "not_covered": "Désolé, les sources ne traitent pas de cette question. Essayez de la reformuler ou de poser une question sur un sujet abordé dans les articles.",
        "not_mentioned": "Désolé, les sources ne mentionnent pas {names}, elles ne peuvent donc pas répondre à cette question.",
        "partly_covered": "Les sources ne mentionnent pas {names}. Sur le reste de la question, voici ce qu'elles disent :",
        "sources": "Sources",
        "alternative": "aussi en",
        "fallback_notice": "Le modèle de langage n'a pas pu être utilisé ; cette réponse cite directement les sources.",
    },
    "de": {
        "lead_in": "Das sagen die Quellen:",
        "not_covered": "Leider behandeln die Quellen diese Frage nicht. Formulieren Sie sie um oder fragen Sie nach einem Thema, das die Artikel behandeln.",
        "not_mentioned": "Leider erwähnen die Quellen {names} nicht und können diese Frage daher nicht beantworten.",
        "partly_covered": "Die Quellen erwähnen {names} nicht. Zum Rest der Frage sagen sie Folgendes:",
        "sources": "Quellen",
        "alternative": "auch auf",
        "fallback_notice": "Das Sprachmodell war nicht erreichbar; diese Antwort zitiert die Quellen direkt.",
    },
    "it": {
        "lead_in": "Ecco cosa dicono le fonti:",
        "not_covered": "Spiacente, le fonti non trattano questa domanda. Prova a riformularla o a chiedere di un argomento trattato negli articoli.",
        "not_mentioned": "Spiacente, le fonti non menzionano {names}, quindi non possono rispondere a questa domanda.",
        "partly_covered": "Le fonti non menzionano {names}. Sul resto della domanda, ecco cosa dicono:",
        "sources": "Fonti",
        "alternative": "anche in",
        "fallback_notice": "Non è stato possibile usare il modello linguistico; questa risposta cita direttamente le fonti.",
    },
    "nl": {
        "lead_in": "Dit zeggen de bronnen:",
        "not_covered": "Sorry, de bronnen behandelen deze vraag niet. Probeer haar anders te formuleren, of vraag naar iets waar de artikelen over gaan.",
        "not_mentioned": "Sorry, de bronnen noemen {names} niet, dus ze kunnen deze vraag niet beantwoorden.",
        "partly_covered": "De bronnen noemen {names} niet. Over de rest van de vraag zeggen ze dit:",
        "sources": "Bronnen",
        "alternative": "ook in het",
        "fallback_notice": "Het taalmodel kon niet worden gebruikt; dit antwoord citeert de bronnen rechtstreeks.",
    },
    "pl": {
        "lead_in": "Oto co mówią źródła:",
        "not_covered": "Niestety źródła nie omawiają tego pytania. Spróbuj je przeformułować albo zapytaj o coś, o czym piszą artykuły.",
        "not_mentioned": "Niestety źródła nie wspominają o {names}, więc nie mogą odpowiedzieć na to pytanie.",
        "partly_covered": "Źródła nie wspominają o {names}. O pozostałej części pytania mówią to:",
        "sources": "Źródła",
        "alternative": "także w języku",
        "fallback_notice": "Nie udało się użyć modelu językowego; ta odpowiedź cytuje źródła bezpośrednio.",
    },
    "ca": {
        "lead_in": "Això és el que diuen les fonts:",
        "not_covered": "Ho sento, les fonts no tracten aquesta pregunta. Prova de reformular-la o de preguntar sobre algun tema que tractin els articles.",
        "not_mentioned": "Ho sento, les fonts no esmenten {names}, així que no poden respondre aquesta pregunta.",
        "partly_covered": "Les fonts no esmenten {names}. Sobre la resta de la pregunta, això és el que diuen:",
        "sources": "Fonts",
        "alternative": "també en",
        "fallback_notice": "No s'ha pogut fer servir el model de llenguatge; aquesta resposta cita les fonts directament.",
    },
    "tr": {
        "lead_in": "Kaynaklar şunu söylüyor:",
        "not_covered": "Üzgünüm, kaynaklar bu soruyu ele almıyor. Soruyu farklı bir şekilde sormayı ya da makalelerin ele aldığı bir konuyu sormayı deneyin.",
        "not_mentioned": "Üzgünüm, kaynaklarda {names} geçmiyor; bu yüzden bu soruyu yanıtlayamıyorlar.",
        "partly_covered": "Kaynaklarda {names} geçmiyor. Sorunun geri kalanı hakkında şunu söylüyorlar:",
        "sources": "Kaynaklar",
        "alternative": "ayrıca",
        "fallback_notice": "Dil modeli kullanılamadı; bu yanıt kaynaklardan doğrudan alıntı yapıyor.",
    },
    "sv": {
        "lead_in": "Det här säger källorna:",
        "not_covered": "Tyvärr tar källorna inte upp den här frågan. Försök formulera om den, eller fråga om något som artiklarna handlar om.",
        "not_mentioned": "Tyvärr nämner källorna inte {names}, så de kan inte besvara den här frågan.",
        "partly_covered": "Källorna nämner inte {names}. Om resten av frågan säger de så här:",
        "sources": "Källor",
        "alternative": "även på",
        "fallback_notice": "Språkmodellen kunde inte användas; det här svaret citerar källorna direkt.",
    },
    "cs": {
        "lead_in": "Zdroje uvádějí toto:",
        "not_covered": "Bohužel se zdroje touto otázkou nezabývají. Zkuste ji přeformulovat, nebo se zeptejte na něco, o čem články píší.",
        "not_mentioned": "Bohužel zdroje nezmiňují {names}, takže na tuto otázku nemohou odpovědět.",
        "partly_covered": "Zdroje nezmiňují {names}. K ostatním částem otázky uvádějí toto:",
        "sources": "Zdroje",
        "alternative": "také v jazyce",
        "fallback_notice": "Jazykový model nebylo možné použít; tato odpověď cituje zdroje přímo.",
    },
    "ru": {
        "lead_in": "Вот что говорят источники:",
        "not_covered": "К сожалению, источники не рассматривают этот вопрос. Попробуйте переформулировать его или спросить о том, о чём пишут статьи.",
        "not_mentioned": "К сожалению, в источниках не упоминается {names}, поэтому они не могут ответить на этот вопрос.",
        "partly_covered": "В источниках не упоминается {names}. Об остальной части вопроса они говорят вот что:",
        "sources": "Источники",
        "alternative": "также на языке",
        "fallback_notice": "Не удалось использовать языковую модель; этот ответ цитирует источники напрямую.",
    },
    "uk": {
        "lead_in": "Ось що кажуть джерела:",
        "not_covered": "На жаль, джерела не розглядають це питання. Спробуйте переформулювати його або запитати про те, про що пишуть статті.",
        "not_mentioned": "На жаль, у джерелах не згадується {names}, тому вони не можуть відповісти на це питання.",
        "partly_covered": "У джерелах не згадується {names}. Про решту питання вони кажуть ось що:",
        "sources": "Джерела",
        "alternative": "також мовою",
        "fallback_notice": "Не вдалося використати мовну модель; ця відповідь цитує джерела безпосередньо.",
    },
    "el": {
        "lead_in": "Αυτό λένε οι πηγές:",
        "not_covered": "Λυπάμαι, οι πηγές δεν καλύπτουν αυτή την ερώτηση. Δοκιμάστε να τη διατυπώσετε διαφορετικά ή ρωτήστε για κάτι που πραγματεύονται τα άρθρα.",
        "not_mentioned": "Λυπάμαι, οι πηγές δεν αναφέρουν {names}, οπότε δεν μπορούν να απαντήσουν σε αυτή την ερώτηση.",
        "partly_covered": "Οι πηγές δεν αναφέρουν {names}. Για το υπόλοιπο της ερώτησης, αυτό λένε:",
        "sources": "Πηγές",
        "alternative": "επίσης στη γλώσσα",
        "fallback_notice": "Δεν ήταν δυνατή η χρήση του γλωσσικού μοντέλου· αυτή η απάντηση παραθέτει απευθείας τις πηγές.",
    },
    "he": {
        "lead_in": "זה מה שהמקורות אומרים:",
        "not_covered": "מצטערים, המקורות אינם עוסקים בשאלה הזו. נסו לנסח אותה מחדש, או לשאול על נושא שהמאמרים עוסקים בו.",
        "not_mentioned": "מצטערים, המקורות אינם מזכירים את {names}, ולכן אינם יכולים לענות על השאלה הזו.",
        "partly_covered": "המקורות אינם מזכירים את {names}. על שאר השאלה, זה מה שהם אומרים:",
        "sources": "מקורות",
        "alternative": "גם בשפה",
        "fallback_notice": "לא ניתן היה להשתמש במודל השפה; תשובה זו מצטטת את המקורות ישירות.",
    },
    "fa": {
        "lead_in": "منابع این را می‌گویند:",
        "not_covered": "متأسفیم، منابع به این پرسش نمی‌پردازند. آن را به شکل دیگری بپرسید یا دربارهٔ موضوعی بپرسید که مقاله‌ها به آن پرداخته‌اند.",
        "not_mentioned": "متأسفیم، در منابع نامی از {names} نیامده است، بنابراین نمی‌توانند به این پرسش پاسخ دهند.",
        "partly_covered": "در منابع نامی از {names} نیامده است. دربارهٔ بقیهٔ پرسش، منابع این را می‌گویند:",
        "sources": "منابع",
        "alternative": "همچنین به زبان",
        "fallback_notice": "استفاده از مدل زبانی ممکن نبود؛ این پاسخ مستقیماً از منابع نقل می‌کند.",
    },
    "hi": {
        "lead_in": "स्रोत यह कहते हैं:",
        "not_covered": "क्षमा करें, स्रोत इस प्रश्न पर बात नहीं करते। इसे दूसरे शब्दों में पूछकर देखें, या किसी ऐसे विषय के बारे में पूछें जिस पर लेख चर्चा करते हैं।",
        "not_mentioned": "क्षमा करें, स्रोतों में {names} का उल्लेख नहीं है, इसलिए वे इस प्रश्न का उत्तर नहीं दे सकते।",
        "partly_covered": "स्रोतों में {names} का उल्लेख नहीं है। प्रश्न के बाकी हिस्से के बारे में वे यह कहते हैं:",
        "sources": "स्रोत",
        "alternative": "अन्य भाषा",
        "fallback_notice": "भाषा मॉडल का उपयोग नहीं किया जा सका; यह उत्तर सीधे स्रोतों को उद्धृत करता है।",
    },
    "th": {
        "lead_in": "แหล่งข้อมูลระบุไว้ดังนี้:",
        "not_covered": "ขออภัย แหล่งข้อมูลไม่ได้กล่าวถึงคำถามนี้ ลองถามใหม่ด้วยถ้อยคำอื่น หรือถามเกี่ยวกับเรื่องที่บทความกล่าวถึง",
        "not_mentioned": "ขออภัย แหล่งข้อมูลไม่ได้กล่าวถึง {names} จึงไม่สามารถตอบคำถามนี้ได้",
        "partly_covered": "แหล่งข้อมูลไม่ได้กล่าวถึง {names} ส่วนคำถามที่เหลือ แหล่งข้อมูลระบุไว้ดังนี้:",
        "sources": "แหล่งข้อมูล",
        "alternative": "มีในภาษา",
        "fallback_notice": "ไม่สามารถใช้โมเดลภาษาได้ คำตอบนี้อ้างอิงจากแหล่งข้อมูลโดยตรง",
    },
    "ko": {
        "lead_in": "출처의 내용은 다음과 같습니다:",
        "not_covered": "죄송합니다. 출처에서 이 질문을 다루지 않습니다. 질문을 바꿔 보시거나 글에서 다루는 주제에 대해 물어보세요.",
        "not_mentioned": "죄송합니다. 출처에 {names}에 대한 언급이 없어 이 질문에 답할 수 없습니다.",
        "partly_covered": "출처에는 {names}에 대한 언급이 없습니다. 질문의 나머지 부분에 대해서는 다음과 같이 말합니다:",
        "sources": "출처",
        "alternative": "다른 언어",
        "fallback_notice": "언어 모델을 사용할 수 없어 이 답변은 출처를 그대로 인용합니다.",
    },
    "ja": {
        "lead_in": "出典には次のように書かれています：",
        "not_covered": "申し訳ありませんが、出典ではこの質問を扱っていません。言い換えて質問するか、記事で取り上げている話題について質問してください。",
        "not_mentioned": "申し訳ありませんが、出典には{names}についての記述がないため、この質問には答えられません。",
        "partly_covered": "出典には{names}についての記述はありません。質問のその他の点については、次のように書かれています：",
        "sources": "出典",
        "alternative": "ほかの言語",
        "fallback_notice": "言語モデルを使用できなかったため、この回答は出典を直接引用しています。",
    },
    "zh": {
        "lead_in": "以下是资料中的内容：",
        "not_covered": "抱歉，资料中没有涉及这个问题。请换一种说法提问，或者询问文章讨论过的话题。",
        "not_mentioned": "抱歉，资料中没有提到{names}，因此无法回答这个问题。",
        "partly_covered": "资料中没有提到{names}。关于问题的其余部分，资料中的内容如下：",
        "sources": "资料来源",
        "alternative": "另有语言",
        "fallback_notice": "无法使用语言模型；本回答直接引用资料原文。",
    },
}


LIST_SEPARATORS = {"ar": "، ", "fa": "، ", "zh": "、", "ja": "、"}


# Names are quoted as the question wrote them: an inflected form reads as the
# question's word, not as this sentence's grammar ("nu menționează „Franței”").
NAME_QUOTES = {"ja": ("「", "」")}


def listing(items: Iterable[str], language: str) -> str:
    """``items``, quoted, as a list in running text: "“Shopify”, “WooCommerce”"."""
    opening, closing = NAME_QUOTES.get(language, ("“", "”"))
    return LIST_SEPARATORS.get(language, ", ").join(f"{opening}{item}{closing}" for item in items)


def message(key: str, language: str) -> str:
    return MESSAGES.get(language, MESSAGES["en"]).get(key) or MESSAGES["en"][key]
