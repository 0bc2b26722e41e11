from diversion_common.credentials import ClientFields
from referral_api.db import ReferralTable


class Client(ClientFields, ReferralTable, table=True):
    __tablename__ = "referral_clients"
