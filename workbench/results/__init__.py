"""Typed, frozen, JSON-serialisable results of an audit.

Every check returns one of these dataclasses (each follows :class:`CheckResult`);
:class:`AuditResult` bundles them by check name. Renderers (FiftyOne write-back, HTML, JSON,
panels) read these objects only. Samples are referred to by FiftyOne sample id; file paths
are carried as data.

The per-sample frames follow cleanlab / CleanVision's column contract:
``is_<issue>_issue`` (bool) and ``<issue>_score`` in [0, 1], low = bad.
"""

from workbench.results.composition import (STRENGTH_BANDS, AttributeAssociation, BalanceResult, BiasResult,
                                           ClassReadiness, SplitShift, Task)
from workbench.results.copies import (DuplicateCluster, DuplicateKind, DuplicateLink, DuplicatesResult, LeakageResult,
                                      LeakPair, NearCalibration)
from workbench.results.core import (SCHEMA_VERSION, AuditArtifacts, AuditResult, CheckState, CheckStatus,
                                    EmbeddingInfo, NeighborInfo, upgrade_v1)
from workbench.results.files import FileProblem, FileProblemKind, IntegrityResult
from workbench.results.labels import ClassErrorRate, LabelIssue, LabelIssuesResult, TierPrecision
from workbench.results.object_labels import ImageLabelScore, ObjectLabelIssue, ObjectLabelIssuesResult
from workbench.results.protocol import CheckResult

__all__ = ["SCHEMA_VERSION", "STRENGTH_BANDS", "AttributeAssociation", "AuditArtifacts", "AuditResult",
           "BalanceResult", "BiasResult", "CheckResult", "CheckState", "CheckStatus", "ClassErrorRate",
           "ClassReadiness", "DuplicateCluster", "DuplicateKind", "DuplicateLink", "DuplicatesResult",
           "EmbeddingInfo", "FileProblem", "FileProblemKind", "ImageLabelScore", "IntegrityResult", "LabelIssue",
           "LabelIssuesResult", "LeakPair", "LeakageResult", "NearCalibration", "NeighborInfo", "ObjectLabelIssue",
           "ObjectLabelIssuesResult", "SplitShift", "Task", "TierPrecision", "upgrade_v1"]
