"""Seeded generator of labelled SMS-like messages (ham and spam) for demos and tests.

Messages are composed from templates and slot values (names, times, places, amounts, URLs,
phone-like numbers, short codes) with SMS noise (typos, casing, abbreviations). A few
templates are deliberately ambiguous (friendly spam, ham that mentions prizes or numbers) so
a good model lands around 97-99 % accuracy rather than a perfect score. Pure standard library:
the `mlops` CLI imports this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path

Row = tuple[str, str]  # (label, text)

NAMES = (
    "Sam", "Priya", "Tom", "Aisha", "Ben", "Chloe", "Dev", "Emma", "Femi", "Grace", "Hugo",
    "Ines", "Jack", "Kemi", "Leo", "Maya", "Nico", "Olga", "Pete", "Rosa", "Sara", "Theo",
    "mum", "dad", "babe", "hun", "bro", "uncle Joe",
)  # fmt: skip
PLACES = (
    "the station", "Tesco", "the gym", "uni", "the library", "Nando's", "the pub", "work",
    "the park", "my place", "your mum's", "the cinema", "the bus stop", "town", "the office",
    "the hospital", "church", "the airport", "Costa", "the match",
)  # fmt: skip
TIMES = (
    "7", "8", "half 6", "10ish", "noon", "lunch", "tonight", "tmrw", "later", "5:30", "9.15",
    "after work", "this eve", "sunday", "the weekend", "in 10 mins", "2morrow morning",
)  # fmt: skip
ACTIVITIES = (
    "dinner", "a film", "footy", "revision", "shopping", "a drink", "coffee", "the gig",
    "bowling", "a walk", "pizza", "the party", "church", "yoga", "a curry",
)  # fmt: skip
THINGS = (
    "keys", "charger", "wallet", "jacket", "notes", "book", "umbrella", "headphones", "card",
    "laptop", "phone", "ticket",
)  # fmt: skip
PRIZES = (
    "£1000 cash", "a £500 Tesco voucher", "a brand new iPhone", "2 tickets to Ibiza",
    "a £250 prize", "£2000 award", "a Nokia camera phone", "a 4* holiday", "£100 gift card",
    "a FREE Sony TV", "10,000 bonus points", "a luxury cruise",
)  # fmt: skip
BRANDS = ("Orange", "O2", "Vodafone", "T-Mobile", "Virgin", "Three", "BT", "EE")
DOMAINS = ("win-now", "claimzone", "prize4u", "txtdeals", "freemsg", "bonusclub", "luckydraw")
ABBREVIATIONS = {
    "you": "u", "are": "r", "to": "2", "for": "4", "tonight": "2nite", "tomorrow": "2moro",
    "please": "pls", "because": "coz", "later": "l8r", "great": "gr8", "text": "txt",
    "message": "msg", "see": "c", "be": "b", "okay": "ok", "what": "wat",
}  # fmt: skip

HAM_TEMPLATES = (
    "Hey {name}, are you still coming to {place} at {time}?",
    "I'll be at {place} around {time}, text me when you get there",
    "Can you pick up some milk on the way home? Thanks {name}",
    "Running late, be there in {minutes} mins sorry!!",
    "Did you see what {name} posted? I can't stop laughing",
    "Happy birthday {name}!! Hope you have an amazing day xx",
    "Fancy {activity} {time}? My treat this time",
    "Sorry I missed your call, I was in a meeting. Call you back at {time}",
    "Left my {thing} at {place}, can you grab it for me?",
    "Ok see you at {time} then. Don't forget the {thing}",
    "Mum says dinner is at {time}, don't be late again",
    "How did the interview go? Let me know when you're free",
    "Just got home, so tired. Talk tomorrow {name}",
    "Can we move {activity} to {time}? Something came up at {place}",
    "Where are you? We're all waiting at {place}",
    "Thanks for {activity} last night, had a great time",
    "Is {name} coming too? I'll book a table for {count}",
    "Love you, sleep well. Speak {time} x",
    "The train is delayed by {minutes} minutes, start without me",
    "Don't worry about the money, pay me back when you can",
    "Have you finished the assignment? I'm stuck on question {count}",
    "Good luck today {name}, you'll smash it!",
    "What time does {place} close? Need to get my {thing}",
    "Lol no way. Tell {name} I said hi",
    "Can't make {activity} {time}, feeling rubbish. Next week?",
    "I owe you £{small_amount} for {activity}, will transfer it {time}",
)  # fmt: skip
# Ham that borrows spam vocabulary (prizes, free, numbers): the honest hard cases.
HAM_HARD_TEMPLATES = (
    "Did you win anything at the raffle? {name} got a free voucher lol",
    "My new number is {phone}, save it and text me",
    "The quiz prize was £{small_amount}! Call me when ur free",
    "Urgent: call me back asap, it's about {name}",
    "Free tonight? Reply when you can",
    "Claim form for the insurance is at {url}, can you fill it in?",
)  # fmt: skip
SPAM_TEMPLATES = (
    "URGENT! You have won {prize}. Call {premium} now to claim. T&Cs apply",
    "Congratulations! You've been selected to receive {prize}. Txt CLAIM to {shortcode}",
    "FREE entry into our weekly draw to win {prize}! Text WIN to {shortcode} now. 18+",
    "Your {brand} account is due a refund of £{amount}. Claim at {url} within 24hrs",
    "You are a WINNER! Claim your {prize} at {url} before it expires",
    "Final notice: your mobile number won {prize} in our prize draw. Call {premium}",
    "Hot singles in your area want to chat! Txt DATE to {shortcode}. £1.50/msg",
    "Get {percent}% off all top-ups this week only! Visit {url} Reply STOP to opt out",
    "Your {brand} contract is due for an upgrade. Get the latest phone FREE! Call {premium}",
    "IMPORTANT: suspicious activity on your account. Verify now at {url}",
    "You have 1 new voicemail. Please call {premium} to retrieve it",
    "Double minutes and FREE texts for {months} months! Call {brand} on {premium}",
    "Guaranteed £{amount} loan, no credit checks! Apply at {url}",
    "Ur mobile no. was awarded {prize}! To claim call {premium} or txt YES to {shortcode}",
    "PRIVATE! Your {year} account statement shows {count} unredeemed bonus points. Call {premium}",
    "Cash prize of £{amount} waiting for you! Reply CASH to {shortcode}. Stop? txt STOP",
    "SMS AUCTION - a brand new Nokia goes for just £{small_amount}! Txt BID to {shortcode}",
    "Your parcel could not be delivered. Reschedule at {url} (fee £1.99)",
    "URGENT: your {brand} account has been suspended. Verify your details at {url}",
    "Security alert: a new device signed in to your bank. Not you? Login at {url} now",
)  # fmt: skip
# Spam written to look personal: the hard cases on the other side.
SPAM_HARD_TEMPLATES = (
    "Hey its {name}! saw ur profile, txt me back on {phone} x",
    "Hi {name}, ur friend has sent u a gift, open it at {url}",
    "Someone has a crush on you! Find out who, reply YES to {shortcode}",
    "{name} here, we met at {place}? Call me on {premium} xx",
)  # fmt: skip


def _slots(rng: random.Random) -> dict[str, str]:
    """One random value per slot; templates use only the slots they name."""
    domain = rng.choice(DOMAINS)
    return {
        "name": rng.choice(NAMES),
        "place": rng.choice(PLACES),
        "time": rng.choice(TIMES),
        "activity": rng.choice(ACTIVITIES),
        "thing": rng.choice(THINGS),
        "minutes": str(rng.choice((5, 10, 15, 20, 25, 30, 45))),
        "count": str(rng.randint(2, 12)),
        "small_amount": str(rng.randint(3, 60)),
        "amount": f"{rng.randint(1, 40) * 50:,}",
        "percent": str(rng.choice((10, 20, 25, 30, 50))),
        "months": str(rng.choice((3, 6, 12))),
        "year": str(rng.randint(2003, 2026)),
        "prize": rng.choice(PRIZES),
        "brand": rng.choice(BRANDS),
        "phone": f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
        "premium": f"09{rng.randint(0, 99):02d}{rng.randint(1000000, 9999999)}",
        "shortcode": str(rng.randint(10000, 89999)),
        "url": f"www.{domain}.{rng.choice(('com', 'co.uk', 'net', 'biz'))}/{rng.randint(10, 999)}",
    }


def _abbreviate(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    return " ".join(ABBREVIATIONS.get(w.lower(), w) if rng.random() < 0.6 else w for w in words)


def _typo(text: str, rng: random.Random) -> str:
    """Swap two neighbouring letters once, as thumbs do."""
    if len(text) < 4:
        return text
    i = rng.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _noise(text: str, rng: random.Random) -> str:
    steps: tuple[tuple[float, Callable[[str, random.Random], str]], ...] = (
        (0.35, _abbreviate),
        (0.25, _typo),
        (0.15, lambda t, _: t.lower()),
        (0.05, lambda t, _: t.upper()),
        (0.10, lambda t, r: t.rstrip("!?.") + r.choice((" :)", " xx", "!!", " lol", "..."))),
    )
    for probability, step in steps:
        if rng.random() < probability:
            text = step(text, rng)
    return text


def _message(templates: tuple[str, ...], hard: tuple[str, ...], rng: random.Random) -> str:
    pool = hard if rng.random() < 0.06 else templates
    return _noise(rng.choice(pool).format(**_slots(rng)), rng)


def _unique_message(label: str, seen: set[str], rng: random.Random) -> str | None:
    """A message not generated before; retrying keeps the class balance when texts collide."""
    templates, hard = (
        (SPAM_TEMPLATES, SPAM_HARD_TEMPLATES)
        if label == "spam"
        else (HAM_TEMPLATES, HAM_HARD_TEMPLATES)
    )
    for _ in range(50):
        text = _message(templates, hard, rng)
        if text not in seen:
            return text
    return None


def generate(
    n: int = 5000, seed: int = 42, spam_fraction: float = 0.15, label_noise: float = 0.015
) -> list[Row]:
    """``n`` distinct (label, text) rows, about ``spam_fraction`` of them spam, reproducible.
    ``label_noise`` of the rows carry the wrong label, as hand-labelled data does."""
    if n < 0 or not 0.0 <= spam_fraction <= 1.0 or not 0.0 <= label_noise <= 0.5:
        raise ValueError("n must be >= 0, spam_fraction within [0, 1], label_noise in [0, 0.5]")
    rng = random.Random(seed)
    rows: list[Row] = []
    seen: set[str] = set()
    for _ in range(n):
        label = "spam" if rng.random() < spam_fraction else "ham"
        text = _unique_message(label, seen, rng)
        if text is not None:
            seen.add(text)
            if rng.random() < label_noise:
                label = "ham" if label == "spam" else "spam"
            rows.append((label, text))
    return rows


def tsv_bytes(rows: Iterable[Row]) -> bytes:
    """``label<TAB>text`` with a header, UTF-8, no quoting (tabs and newlines never occur)."""
    lines = ["label\ttext"]
    # Whitespace runs collapse to one space, so a text can never hold a tab or a newline.
    lines.extend(f"{' '.join(label.split())}\t{' '.join(text.split())}" for label, text in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_tsv(path: str | Path, rows: Iterable[Row]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(tsv_bytes(rows))
    return target
