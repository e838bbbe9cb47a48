"""Everyday questions that no knowledge base about one subject answers.

The same four topics (bread, a mountain, a painting, a spider) in every
language omnikb recognises, so that each language has its own measure of
what "not covered" scores: questions in a language the articles are written
in score higher against them whatever they ask, and questions in a script
the model knows less well score lower, even when they are on the subject.
"""

from __future__ import annotations

OFF_TOPIC_PROBES: dict[str, tuple[str, ...]] = {
    "en": (
        "How do I bake bread at home?",
        "What is the tallest mountain in Africa?",
        "Who painted the Mona Lisa?",
        "How many legs does a spider have?",
    ),
    "pt": (
        "Como faço pão em casa?",
        "Qual é a montanha mais alta de África?",
        "Quem pintou a Mona Lisa?",
        "Quantas patas tem uma aranha?",
    ),
    "es": (
        "¿Cómo hago pan en casa?",
        "¿Cuál es la montaña más alta de África?",
        "¿Quién pintó la Mona Lisa?",
        "¿Cuántas patas tiene una araña?",
    ),
    "ro": (
        "Cum fac pâine acasă?",
        "Care este cel mai înalt munte din Africa?",
        "Cine a pictat Mona Lisa?",
        "Câte picioare are un păianjen?",
    ),
    "ar": ("كيف أخبز الخبز في المنزل؟", "ما هو أعلى جبل في أفريقيا؟", "من رسم الموناليزا؟", "كم عدد أرجل العنكبوت؟"),
    "fr": (
        "Comment faire du pain à la maison ?",
        "Quelle est la plus haute montagne d'Afrique ?",
        "Qui a peint la Joconde ?",
        "Combien de pattes a une araignée ?",
    ),
    "de": (
        "Wie backe ich Brot zu Hause?",
        "Was ist der höchste Berg Afrikas?",
        "Wer hat die Mona Lisa gemalt?",
        "Wie viele Beine hat eine Spinne?",
    ),
    "it": (
        "Come faccio il pane in casa?",
        "Qual è la montagna più alta dell'Africa?",
        "Chi ha dipinto la Gioconda?",
        "Quante zampe ha un ragno?",
    ),
    "nl": (
        "Hoe bak ik thuis brood?",
        "Wat is de hoogste berg van Afrika?",
        "Wie heeft de Mona Lisa geschilderd?",
        "Hoeveel poten heeft een spin?",
    ),
    "pl": (
        "Jak upiec chleb w domu?",
        "Jaka jest najwyższa góra w Afryce?",
        "Kto namalował Mona Lisę?",
        "Ile nóg ma pająk?",
    ),
    "ca": (
        "Com faig pa a casa?",
        "Quina és la muntanya més alta d'Àfrica?",
        "Qui va pintar la Gioconda?",
        "Quantes potes té una aranya?",
    ),
    "tr": (
        "Evde nasıl ekmek yaparım?",
        "Afrika'nın en yüksek dağı hangisidir?",
        "Mona Lisa'yı kim çizdi?",
        "Bir örümceğin kaç bacağı vardır?",
    ),
    "sv": (
        "Hur bakar jag bröd hemma?",
        "Vilket är Afrikas högsta berg?",
        "Vem målade Mona Lisa?",
        "Hur många ben har en spindel?",
    ),
    "cs": (
        "Jak upéct chleba doma?",
        "Která je nejvyšší hora Afriky?",
        "Kdo namaloval Monu Lisu?",
        "Kolik nohou má pavouk?",
    ),
    "ru": (
        "Как испечь хлеб дома?",
        "Какая самая высокая гора в Африке?",
        "Кто написал Мону Лизу?",
        "Сколько ног у паука?",
    ),
    "uk": ("Як спекти хліб удома?", "Яка найвища гора в Африці?", "Хто намалював Мону Лізу?", "Скільки ніг у павука?"),
    "el": (
        "Πώς φτιάχνω ψωμί στο σπίτι;",
        "Ποιο είναι το ψηλότερο βουνό της Αφρικής;",
        "Ποιος ζωγράφισε τη Μόνα Λίζα;",
        "Πόσα πόδια έχει μια αράχνη;",
    ),
    "he": ("איך אופים לחם בבית?", "מהו ההר הגבוה ביותר באפריקה?", "מי צייר את המונה ליזה?", "כמה רגליים יש לעכביש?"),
    "th": ("ฉันจะอบขนมปังที่บ้านได้อย่างไร", "ภูเขาที่สูงที่สุดในแอฟริกาคืออะไร", "ใครวาดภาพโมนาลิซา", "แมงมุมมีกี่ขา"),
    "hi": (
        "मैं घर पर रोटी कैसे बनाऊँ?",
        "अफ्रीका का सबसे ऊँचा पर्वत कौन सा है?",
        "मोना लिसा किसने बनाई?",
        "मकड़ी के कितने पैर होते हैं?",
    ),
    "ko": (
        "집에서 빵을 어떻게 굽나요?",
        "아프리카에서 가장 높은 산은 무엇입니까?",
        "모나리자를 누가 그렸나요?",
        "거미는 다리가 몇 개입니까?",
    ),
    "ja": (
        "家でパンを焼くにはどうすればいいですか？",
        "アフリカで一番高い山は何ですか？",
        "モナリザを描いたのは誰ですか？",
        "クモの足は何本ですか？",
    ),
    "zh": ("如何在家烤面包？", "非洲最高的山是哪座？", "谁画了蒙娜丽莎？", "蜘蛛有几条腿？"),
    "fa": (
        "چگونه در خانه نان بپزم؟",
        "بلندترین کوه آفریقا کدام است؟",
        "چه کسی مونالیزا را کشید؟",
        "عنکبوت چند پا دارد؟",
    ),
}
