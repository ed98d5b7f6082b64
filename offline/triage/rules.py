"""The built-in rule table: what a front desk knows before this hotel has any history.

Each rule is a few phrases with the category they point to and, where the phrase alone says how
pressing it is, the priority (a leak through the ceiling is urgent whoever logs it). Rules are
ordered most pressing first; ``match`` returns the first rule with a phrase in the text.

The table serves twice: on its own when the replica has no history, and as seed examples for
the learned model (``offline.triage.assistant``), so a hotel with twenty requests logged still
knows what "burst pipe" means and a hotel with ten thousand is led by its own habits.

Phrases are folded like the text (lower case, no accents). A phrase word of four letters or
more also matches a longer word it starts ("leak" matches "leaking", "leaks"); shorter ones
match whole words only ("ac" must not match "access").
"""

from __future__ import annotations

from dataclasses import dataclass

from offline.triage.words import words


@dataclass(frozen=True)
class Rule:
    """Phrases that point to ``category`` and, if set, to ``priority``."""

    category: str
    priority: str | None
    phrases: tuple[str, ...]


def _rule(category: str, priority: str | None, phrases: str) -> Rule:
    return Rule(category, priority, tuple(p.strip() for p in phrases.split(";") if p.strip()))


RULES: tuple[Rule, ...] = (
    # -- urgent: people or the building at risk ------------------------------------------------
    _rule(
        "maintenance",
        "urgent",
        "water coming through; through the ceiling; water pouring; pouring from; flood; "
        "flooding; burst pipe; pipe burst; overflowing; water everywhere; sparks; "
        "burning smell; smell of burning; smell of gas; gas smell; smoke coming; "
        "smoke from; fire alarm; smoke alarm going off; electric shock; stuck between floors; "
        "stuck in the lift; stuck in the elevator; trapped",
    ),
    _rule(
        "front_desk",
        "urgent",
        "ambulance; collapsed; unconscious; chest pain; chest pains; not breathing; bleeding; "
        "fell and; can't get up; cannot get up; injured; child missing; missing child; "
        "locked out with baby; locked out with child; someone trying to open; intruder",
    ),
    # -- high: the guest cannot use the room as they should ------------------------------------
    _rule(
        "maintenance",
        "high",
        "no hot water; only cold water; cold shower; lukewarm; hot water; water heater; "
        "kein warmes wasser; agua caliente; eau chaude; toilet clogged; toilet blocked; "
        "clogged; no power; power out; power cut; heating not working; radiator cold; "
        "room freezing; ac not working; air conditioning not working; aircon not working; "
        "ac broken; klimaanlage; leak; leaking; leaks; drip from ceiling; ceiling stain; "
        "water on floor; water on the floor; floor is wet; won't lock; doesn't lock; "
        "won't close; mold; mould; sewage; fuite; shattered; broken glass; smoke detector",
    ),
    _rule(
        "front_desk",
        "high",
        "locked out; lock out; key card not working; keycard not working; card not opening; "
        "doesn't open door; key doesn't work; noise complaint; loud music; party next door; "
        "shouting; cannot sleep; can't sleep; suspicious; lost passport; lost wallet; "
        "lost his wallet; lost her wallet; double booked; card declined; feels unwell; "
        "needs a doctor; wants manager",
    ),
    # -- low: whenever it suits ----------------------------------------------------------------
    _rule(
        "maintenance",
        "low",
        "remote batteries; needs batteries; squeaky; squeaks; squeak; paint chipped",
    ),
    _rule(
        "housekeeping",
        "low",
        "when convenient; no service needed; no service; do not disturb; dnd; "
        "don't clean; do not clean; not changed daily; green option",
    ),
    # -- by category, priority left to history ------------------------------------------------
    _rule(
        "maintenance",
        None,
        "not working; doesn't work; does not work; isn't working; not wroking; broken; "
        "broke; repair; fix; stuck; loose; rattling; noisy; buzzing; clicking; dripping; "
        "tap; faucet; drain; flush; toilet; shower head; water pressure; pressure; tv; "
        "television; remote; channel; no signal; chromecast; hdmi; wifi; internet; "
        "light bulb; bulb; lamp; flicker; flickering; socket; outlet; plug; power socket; "
        "switch; breaker; fuse; ac; aircon; air con; air conditioning; thermostat; "
        "heating; heater; radiator; fan; vent; extractor; hinge; handle; window; "
        "curtain rail; blind; sliding door; door lock; lock; safe; fridge; not cooling; "
        "kettle; coffee machine; elevator; lift; ice machine; crack; cracked; tile; "
        "mirror; slats; dial tone; kaputt; funktioniert nicht; no funciona; en panne; "
        "out of service; jets; pipes; damp; trip hazard; carpet lifted",
    ),
    _rule(
        "housekeeping",
        None,
        "towel; towels; towles; toalla; toallas; serviette; serviettes; handtuch; "
        "handtucher; linen; sheets; bedding; duvet; blanket; pillow; pillows; pillowcase; "
        "make up room; make up the room; clean; cleaning; cleaned; reclean; dirty; vacuum; "
        "dust; stain; spilled; spill; trash; bin; bins; garbage; rubbish; toilet paper; "
        "tissues; soap; shampoo; conditioner; lotion; toiletries; amenities; dental kit; "
        "toothbrush; toothpaste; razor; shaving kit; sewing kit; hangers; hanger; iron; "
        "ironing board; bathrobe; robe; robes; slippers; crib; cot; baby bed; rollaway; "
        "extra bed; sofa bed; turndown; laundry; dry cleaning; pressing; bath mat; "
        "coffee pods; tea bags; cups; hairdryer missing; hair dryer missing; "
        "mattress topper; vomit; vomited; pet accident; papel higienico; seife; wash cloths; "
        "housekeeping; maid; bottle warmer; lint roller; prayer mat; complimentary",
    ),
    _rule(
        "room_service",
        None,
        "room service; order; ordered; breakfast in room; breakfast; lunch; menu; "
        "sandwich; burger; pizza; pizzas; salad; soup; steak; pasta; fries; fruit plate; "
        "cake; dessert; snack; champagne; prosecco; bottle of wine; bottle of red; beer; "
        "beers; coke; juice; sparkling water; espresso; hot chocolate; croissants; "
        "ice bucket; bucket of ice; tray; trays; cart; cutlery; minibar restock; "
        "minibar refill; desayuno; petit dejeuner; fruhstuck; halal; gluten free; "
        "kids meal; late night menu; in room dining; platter; ice cream; nachos",
    ),
    _rule(
        "concierge",
        None,
        "book a table; table for; reserve a table; restaurant; dinner reservation; "
        "taxi; cab; uber; airport transfer; transfer; shuttle; limo; car rental; "
        "rent a car; rent; bikes; tickets; ticket; tix; musical; theatre; theater; "
        "opera; concert; museum; tour; sightseeing; excursion; boat trip; spa; massage; "
        "appointment; salon; golf; tee time; ski; babysitter; flowers; roses; courier; "
        "send package; gift; recommend; recommendation; ideas; directions; where to; "
        "nearby; pharmacy; interpreter; translate; tour guide; class; dog walker; "
        "train; boarding pass; reserver; reservar; mesa; tisch reservieren; cabana; "
        "wine tasting; surprise; car seat",
    ),
    _rule(
        "front_desk",
        None,
        "key card; keycard; key; keys; lost key; late checkout; late check out; "
        "late check-out; checkout; check out; check-out; check in; check-in; bill; "
        "invoice; facture; receipt; charge; charged; refund; payment; pay; credit card; "
        "deposit; extend stay; extend; change room; move rooms; another room; "
        "quieter room; upgrade; wake up call; wake-up call; wakeup; weckruf; "
        "despertador; reveil; noise; neighbours; manager; complaint; parking; "
        "car park; luggage; package arrived; delivery; hold at desk; lost and found; "
        "lost & found; lost; wifi password; password; currency; exchange; print; fax; "
        "visa letter; reservation; booking; departure; doctor; unwell; security; "
        "reception; hold all calls; house rules",
    ),
    _rule(
        "other",
        None,
        "lobby; staff meeting; supplier; loading dock; journalist; press; film crew; "
        "photographer; donation; vending machine; stray; bees; wasps; wildlife; "
        "decorations; brochure; review; tripadvisor; protest; plant; artwork; "
        "loyalty points",
    ),
)


_Phrase = tuple[int, tuple[str, ...]]
"""(index of its rule in ``RULES``, its folded words)."""


def _index() -> dict[str, list[_Phrase]]:
    """Phrases by their first word, so matching looks only at phrases a text word can start."""
    index: dict[str, list[_Phrase]] = {}
    for at, rule in enumerate(RULES):
        for phrase in rule.phrases:
            ws = tuple(words(phrase))
            if ws:
                index.setdefault(ws[0], []).append((at, ws))
    return index


_BY_FIRST_WORD = _index()


def _same(want: str, got: str) -> bool:
    return got == want or (len(want) >= 4 and got.startswith(want))


def match(text: str) -> Rule | None:
    """The most pressing rule one of whose phrases is in ``text`` (None: no rule applies)."""
    ws = words(text)
    best = len(RULES)
    index = _BY_FIRST_WORD
    for start, word in enumerate(ws):
        # The phrases this word can begin: its own, and those whose first word it extends.
        heads = [word] + [word[:n] for n in range(4, len(word))]
        for head in heads:
            for at, phrase in index.get(head, ()):
                if at >= best:
                    continue
                tail = ws[start + 1 : start + len(phrase)]
                if len(tail) == len(phrase) - 1 and all(
                    _same(w, g) for w, g in zip(phrase[1:], tail, strict=True)
                ):
                    best = at
    return RULES[best] if best < len(RULES) else None
