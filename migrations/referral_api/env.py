from diversion_common.migrations import run_environment
from referral_api.config import Settings
from referral_api.db import ReferralTable, import_all_tables

import_all_tables()
run_environment("referral_api", ReferralTable.metadata, Settings().database_url)
