"""The strict SOQL subset of the sandbox org: parser (``parser``), date literals (``dates``), evaluation
(``engine``).
"""

from cpq_sync.sandbox.salesforce.soql.engine import Plan, SoqlEngine
from cpq_sync.sandbox.salesforce.soql.parser import parse

__all__ = ["Plan", "SoqlEngine", "parse"]
