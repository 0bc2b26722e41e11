from diversion_common.credentials import ClientFields
from provider_gateway.db import GatewayTable


class Client(ClientFields, GatewayTable, table=True):
    __tablename__ = "gateway_clients"
