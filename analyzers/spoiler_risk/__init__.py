"""``dpa.spoiler-risk``: armed groups typed predatory, parasitic or symbiotic, per year (DPA).

The seed paper ("On Tactics and Strategy") distinguishes three kinds of groups:

    "Predatory organized crime groups are probably less inclined to accept political
    solutions or to be integrated into existing authority structures than symbiotic or
    parasitic groups, since they are hostile to existing authority structures and are
    willing to engage in primitive capital accumulation (looting and plundering)."

    "[criminal organizers may] move from a predatory to a more parasitic or symbiotic
    strategy, where they may be susceptible to bargaining for political settlements"

    "criminal networks may forge more enduring links to the state, becoming symbiotic"
    ... "the stability of symbiosis is mistaken for peace"

and, on what such groups live from, "governmental entities and criminal organizations
... providing similar services - especially protection - financed by similar rent and
taxation arrangements". It warns that "'organized crime' is a label that must be
applied with care" and "should be understood as one form of organized non-state
violence among many", and names DPA among the bodies that would "map potential peace
spoilers" ("Towards Integrated Analytical Capacity").

So, per group and calendar year (:mod:`analyzers.spoiler_risk._typology`):

* **predatory** needs both halves of the definition: *hostility to existing authority
  structures* - state-based violence (UCDP ``type_of_violence`` 1) against a
  government, counted by the government's actor id, the conflict id and the dyad id -
  and *preying*: one-sided violence against civilians as the UCDP codebook defines it,
  or looting and plunder in the events' narratives;
* **parasitic**: living off the conflict economy - rent, taxation, levies, extortion,
  kidnapping for ransom, smuggling, on checkpoints, mines, trade and herds - from the
  narratives (a multilingual lexicon, :mod:`analyzers.spoiler_risk._lexicon`);
* **symbiotic**: alignment with or protection by the state - fighting on a
  government's side, or accounts of state backing that name the group - and no
  hostility to a government in the year;
* otherwise **insufficient evidence**: no call, never a default type; and a group
  that looks communal or identity-based (UCDP's informally organised groups) is not
  typed at all.

Confidence grows with the number of independent evidence items (events; distinct
narratives), not with a margin between scores. Findings converge
(:mod:`analyzers.converge`): tallies are order-free, a call is derived from them alone,
and a call that no longer holds is withdrawn.

Limits of the evidence: UCDP GED folds pro-government militias into the government
side and records most rebel factions' war on the state under aggregates such as
"Syrian insurgents"; a faction seen only in clashes with other groups therefore shows
no hostility to the state under its own name. Narratives are headlines that name
attackers and victims alike; the words of an account are credited to every group of
the event (state backing only to a group the account names).
"""

from clearinghouse.analyzers.spoiler_risk._analyzer import SpoilerRiskAnalyzer

__all__ = ["SpoilerRiskAnalyzer"]
