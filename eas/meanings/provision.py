"""What each Provision policy setting (EASProvisionDoc, MS-ASPROV 2.2.2) means, with its value meanings."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


class PolicySetting(NamedTuple):
    """One EASProvisionDoc element: what it controls, and what its values mean (None: a number or text)."""

    description: str
    values: Mapping[str, str] | None = None
    unit: str | None = None


_ALLOW = MappingProxyType({"0": "not allowed", "1": "allowed"})
_REQUIRE = MappingProxyType({"0": "not required", "1": "required"})
_ENABLED = MappingProxyType({"0": "disabled", "1": "enabled"})

# MS-ASPROV 2.2.2 Elements: the children of EASProvisionDoc (Provision namespace)
POLICY_SETTINGS: Mapping[str, PolicySetting] = MappingProxyType({
    "EASProvisionDoc": PolicySetting("the policy settings the device must apply"),
    "AllowBluetooth": PolicySetting("Bluetooth use", MappingProxyType({
        "0": "Bluetooth disabled", "1": "hands-free profiles only", "2": "Bluetooth allowed"})),
    "AllowBrowser": PolicySetting("the device's web browser", _ALLOW),
    "AllowCamera": PolicySetting("the device's camera", _ALLOW),
    "AllowConsumerEmail": PolicySetting("personal (consumer) email accounts on the device", _ALLOW),
    "AllowDesktopSync": PolicySetting("sync with a desktop computer", _ALLOW),
    "AllowHTMLEmail": PolicySetting("HTML email (else plain text only)", _ALLOW),
    "AllowInternetSharing": PolicySetting("sharing the device's internet connection", _ALLOW),
    "AllowIrDA": PolicySetting("infrared connections", _ALLOW),
    "AllowPOPIMAPEmail": PolicySetting("POP and IMAP email accounts", _ALLOW),
    "AllowRemoteDesktop": PolicySetting("remote desktop from the device", _ALLOW),
    "AllowSimpleDevicePassword": PolicySetting("simple passwords such as 1111 or 1234", _ALLOW),
    "AllowSMIMEEncryptionAlgorithmNegotiation": PolicySetting(
        "negotiation of the S/MIME encryption algorithm", MappingProxyType({
            "0": "do not negotiate", "1": "negotiate strong algorithms only", "2": "negotiate any algorithm"})),
    "AllowSMIMESoftCerts": PolicySetting("software (non-smart-card) S/MIME certificates", _ALLOW),
    "AllowStorageCard": PolicySetting("storage cards", _ALLOW),
    "AllowTextMessaging": PolicySetting("SMS text messaging", _ALLOW),
    "AllowUnsignedApplications": PolicySetting("running unsigned applications", _ALLOW),
    "AllowUnsignedInstallationPackages": PolicySetting("installing unsigned packages", _ALLOW),
    "AllowWiFi": PolicySetting("Wi-Fi", _ALLOW),
    "AllowWifi": PolicySetting("Wi-Fi", _ALLOW),
    "AlphanumericDevicePasswordRequired": PolicySetting("a password with letters and digits", _REQUIRE),
    "ApprovedApplicationList": PolicySetting("applications allowed to run (Hash children)"),
    "Hash": PolicySetting("SHA-1 hash of an approved application"),
    "AttachmentsEnabled": PolicySetting("downloading attachments", _ENABLED),
    "DevicePasswordEnabled": PolicySetting("a device password", _REQUIRE),
    "DevicePasswordExpiration": PolicySetting("days before the password expires (0 or empty: never)",
                                              unit="days"),
    "DevicePasswordHistory": PolicySetting("previous passwords that cannot be reused (0: no history)",
                                           unit="passwords"),
    # MS-ASWBXML 2.1.2.1.15 token 0x10: the 12.0-era name of RequireStorageCardEncryption
    "DeviceEncryptionEnabled": PolicySetting(
        "encryption of storage cards (old name of RequireStorageCardEncryption)", _REQUIRE),
    "MaxAttachmentSize": PolicySetting("largest attachment downloaded automatically (empty: no limit)",
                                       unit="bytes"),
    "MaxCalendarAgeFilter": PolicySetting("how far back calendar items may sync", MappingProxyType({
        "0": "all", "4": "2 weeks", "5": "1 month", "6": "3 months", "7": "6 months"})),
    "MaxDevicePasswordFailedAttempts": PolicySetting("failed unlocks before the device wipes itself",
                                                     unit="attempts"),
    "MaxEmailAgeFilter": PolicySetting("how far back email may sync", MappingProxyType({
        "0": "all", "1": "1 day", "2": "3 days", "3": "1 week", "4": "2 weeks", "5": "1 month"})),
    "MaxEmailBodyTruncationSize": PolicySetting(
        "largest plain text body sent before truncation (-1: no limit, 0: headers only)", unit="KB"),
    "MaxEmailHTMLBodyTruncationSize": PolicySetting(
        "largest HTML body sent before truncation (-1: no limit, 0: headers only)", unit="KB"),
    "MaxInactivityTimeDeviceLock": PolicySetting("idle time before the device locks (9999: never)",
                                                 unit="seconds"),
    "MinDevicePasswordComplexCharacters": PolicySetting(
        "character groups (lower, upper, digits, symbols) the password must mix (1-4)", unit="groups"),
    "MinDevicePasswordLength": PolicySetting("shortest password allowed", unit="characters"),
    "PasswordRecoveryEnabled": PolicySetting("storing a recovery password on the server", _ENABLED),
    "RequireDeviceEncryption": PolicySetting("encryption of the device", _REQUIRE),
    "RequireEncryptedSMIMEMessages": PolicySetting("sending encrypted S/MIME messages", _REQUIRE),
    "RequireEncryptionSMIMEAlgorithm": PolicySetting("S/MIME encryption algorithm", MappingProxyType({
        "0": "TripleDES", "1": "DES", "2": "RC2 128-bit", "3": "RC2 64-bit", "4": "RC2 40-bit"})),
    "RequireManualSyncWhenRoaming": PolicySetting("manual sync only while roaming", _REQUIRE),
    "RequireSignedSMIMEAlgorithm": PolicySetting("S/MIME signing algorithm", MappingProxyType({
        "0": "SHA-1", "1": "MD5"})),
    "RequireSignedSMIMEMessages": PolicySetting("signing messages with S/MIME", _REQUIRE),
    "RequireStorageCardEncryption": PolicySetting("encryption of storage cards", _REQUIRE),
    "UnapprovedInROMApplicationList": PolicySetting("built-in applications that must not run "
                                                    "(ApplicationName children)"),
    "ApplicationName": PolicySetting("name of a built-in application that must not run"),
    "DocumentBrowseEnabled": PolicySetting("token kept for history; the current spec does not use it"),
})

# MS-ASPROV 2.2.2 Elements: the Provision page elements outside EASProvisionDoc
PROVISION_ELEMENTS: Mapping[str, str] = MappingProxyType({
    "PolicyKey": "policy key: the client sends it in X-MS-PolicyKey (or the query) on every later command",
    "RemoteWipe": "the server asks the device to wipe itself; the client acknowledges with a Status",
    "AccountOnlyRemoteWipe": "the server asks the device to wipe this account's data only",
    "Data": "the policy document",
})
