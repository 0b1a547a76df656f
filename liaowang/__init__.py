"""Liaowang: network security situational awareness for 5G core and industrial networks.

This base package holds what every layer shares and nothing else: the event schema, the event
builders and the configuration. It imports no other Liaowang package.
"""

__version__ = "0.1.0"
