"""What Settings command elements hold (MS-ASCMD 2.2.3.x, Settings namespace), in our own words."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Oof, DeviceInformation, DevicePassword, UserInformation and RightsManagementInformation elements:
# MS-ASCMD Settings namespace element sections
SETTINGS_ELEMENTS: Mapping[str, str] = MappingProxyType({
    "Oof": "out-of-office settings (Get or Set)",
    "AppliesToInternal": "the reply sent to people inside the organization",
    "AppliesToExternalKnown": "the reply sent to outside people in the user's contacts",
    "AppliesToExternalUnknown": "the reply sent to every other outside sender",
    "ReplyMessage": "text of the automatic reply",
    "DeviceInformation": "facts about the device, for the server's device list (required in 14.1 Provision)",
    "Model": "device model",
    "IMEI": "IMEI of the device",
    "FriendlyName": "name the user gave the device",
    "OS": "operating system",
    "OSLanguage": "language of the operating system",
    "PhoneNumber": "phone number of the device",
    "UserAgent": "user agent of the EAS client",
    "MobileOperator": "mobile network operator",
    "DevicePassword": "the device password sent for recovery (PasswordRecoveryEnabled)",
    "Password": "recovery password (stored by the server)",
    "UserInformation": "the user's addresses and accounts (Get)",
    "EmailAddresses": "the user's email addresses",
    "SMTPAddress": "one SMTP address of the user",
    "PrimarySmtpAddress": "the user's primary SMTP address",
    "Accounts": "accounts the user can send as",
    "AccountName": "display name of an account",
    "UserDisplayName": "display name of the user",
    "SendDisabled": "1: sending from this account is disabled",
    "RightsManagementInformation": "IRM templates the user may apply (Get)",
    "StartTime": "out of office starts (UTC)",
    "EndTime": "out of office ends (UTC)",
})
