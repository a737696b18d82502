"""Story texts the news-site pages and the duplicate tests share: one wire story, a different
story on the same event (the hard case for duplicate detection) and an unrelated one."""

from __future__ import annotations

STORM = [
    "A powerful storm battered the northern coast overnight, cutting power to about 40,000 homes "
    "and forcing the closure of two main roads into the port town of Kessling, officials said on "
    "Tuesday.",
    "Winds of up to 120 km/h were recorded at the harbour, where several fishing boats broke their "
    "moorings and two were driven onto the rocks below the lighthouse. Nobody was aboard.",
    "Emergency services said they had received more than 300 calls since midnight, most of them "
    "about fallen trees and flooded basements in the low-lying streets near the river mouth.",
    '"We have never seen the water this high in the town centre," said mayor Ilse Marten, who '
    "urged residents to stay indoors until the afternoon and to keep away from the sea front.",
    "The national weather service had issued its highest warning on Monday evening and said the "
    "storm would weaken as it moved inland, though heavy rain was expected to last until Wednesday.",
    "Rail operator NordRail cancelled all morning trains between Kessling and the capital after a "
    "tree fell across the line near Brandholm. Replacement buses were running with long delays.",
    "The grid operator said crews would work through the night but warned that some villages on "
    "the headland might remain without electricity until the weekend.",
    "Schools in the district stayed closed, and the regional hospital postponed planned operations "
    "so that staff could reach the wards in case of emergencies.",
]

# The same storm, another story: shares names and places, not sentences.
STORM_AFTERMATH = [
    "Insurers in the northern region expect claims running into tens of millions after this "
    "week's storm, the industry association said on Thursday, as Kessling began clearing debris.",
    "Adjusters have been sent to the port town, where the harbour and the streets near the river "
    "mouth took the worst of the damage, according to the association's preliminary estimate.",
    "Homeowners were told to photograph damage before throwing anything away and to keep receipts "
    "for emergency repairs, which most policies cover up to a fixed amount.",
    "Mayor Ilse Marten said the town would open a help desk in the library on Friday for residents "
    "who need advice on claims, temporary housing or the state's emergency grants.",
    "Fishermen whose boats were wrecked at their moorings face a longer wait: marine policies are "
    "handled by a separate scheme whose assessors are not due in Kessling until next week.",
    "NordRail said the line to the capital had reopened on Wednesday evening after engineers "
    "removed the fallen tree near Brandholm and checked the track for damage.",
    "The grid operator reported that all but 600 homes had their power back by Thursday morning, "
    "most of them in the villages on the headland.",
    "Forecasters warned that another, weaker, low-pressure system could reach the coast on Sunday, "
    "though they expected no repeat of this week's winds.",
]

ELECTION = [
    "Voters in the riverside district of Almen will choose a new council on Sunday after the "
    "previous one was dissolved over a dispute about the budget for the new bridge.",
    "Five lists are standing, the largest number in the district's history, and polls suggest that "
    "none of them will win a majority of the 31 seats on its own.",
    "The outgoing council leader, Piet Varden, is running again at the head of a list that promises "
    "to finish the bridge without raising local taxes, a pledge his opponents call unrealistic.",
    "His main challenger, the former school director Anja Loef, wants to put the bridge project on "
    "hold and spend the money on housing and on the district's ageing sports halls.",
    "Turnout at the last local election was 54 percent, and officials hope that the postal voting "
    "introduced this year will bring more young people and commuters to the polls.",
    "Results are expected late on Sunday evening, and coalition talks could take several weeks if, "
    "as expected, three or more lists are needed to form a majority.",
]


def text(paragraphs: list[str]) -> str:
    return "\n".join(paragraphs)


def html_paragraphs(paragraphs: list[str]) -> str:
    return "\n".join(f"<p>{p}</p>" for p in paragraphs)
