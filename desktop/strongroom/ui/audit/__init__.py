"""The auditor's views: the audit log viewer and the compliance view."""
