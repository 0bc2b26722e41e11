from diversion_common.migrations import run_environment
from provider_gateway.config import Settings
from provider_gateway.db import GatewayTable, import_all_tables

import_all_tables()
run_environment("provider_gateway", GatewayTable.metadata, Settings().database_url)
