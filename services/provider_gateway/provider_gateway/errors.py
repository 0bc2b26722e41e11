"""Problems particular to provider_gateway; the base classes are in diversion_common.problems."""

from diversion_common.problems import Conflict, Forbidden


class ProviderNameTaken(Conflict):
    slug = "provider-name-taken"
    title = "A provider with this name exists"


class ProviderDisabled(Forbidden):
    slug = "provider-disabled"
    title = "This provider is disabled: it takes on and reports no work"
