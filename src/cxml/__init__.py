"""cxml: churn, satisfaction-drop and next-best-action for customer-experience teams."""

__version__ = "0.1.0"
