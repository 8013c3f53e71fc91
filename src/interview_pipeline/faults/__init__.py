"""What the interview does when a vendor fails: one policy, per role (see ``policy.py``)."""

from interview_pipeline.faults.policy import Role, VendorFaultPolicy

__all__ = ["Role", "VendorFaultPolicy"]
