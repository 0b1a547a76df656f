"""The signature engine: Sigma rules (SigmaHQ format, parsed with pySigma) over live events.

``loader`` reads rule files and locates every problem, ``compiler`` turns detections into
predicates, ``index`` files rules by dataset and required values, ``correlation`` keeps the
windows of correlation rules, ``alerts`` builds alert events, ``detector`` puts them together
behind the detector contract, ``lint`` and ``examples`` back ``liaowang rules lint`` / ``test``.
"""

from detection.sigma.detector import SigmaDetector
from detection.sigma.loader import SHIPPED_RULES, RulePack, load_pack
from detection.sigma.locate import RuleProblem

__all__ = ["SHIPPED_RULES", "RulePack", "RuleProblem", "SigmaDetector", "load_pack"]
