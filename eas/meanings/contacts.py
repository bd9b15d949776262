"""What each Contacts (page 1) and Contacts2 (page 12) element holds (MS-ASCNTC 2.2.2), in our own words."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# MS-ASCNTC 2.2.2 Elements (Contacts namespace), 2.2.1 Complex Types; names as MS-ASWBXML page 1 spells them
CONTACTS: Mapping[str, str] = MappingProxyType({
    "Anniversary": "wedding anniversary",
    "AssistantName": "name of the contact's assistant",
    "AssistantPhoneNumber": "phone number of the assistant",
    "AssistnamePhoneNumber": "phone number of the assistant (old misspelled name)",
    "Birthday": "date of birth",
    "Body": "notes (protocol 2.5; AirSyncBase Body since 12.0)",
    "BodySize": "size of the notes (protocol 2.5)",
    "BodyTruncated": "whether the notes were truncated (protocol 2.5)",
    "Business2PhoneNumber": "second business phone",
    "BusinessAddressCity": "city of the business address",
    "BusinessAddressCountry": "country of the business address",
    "BusinessAddressPostalCode": "postal code of the business address",
    "BusinessPostalCode": "postal code of the business address (name used in the spec text)",
    "BusinessAddressState": "state or region of the business address",
    "BusinessAddressStreet": "street of the business address",
    "BusinessFaxNumber": "business fax",
    "BusinessPhoneNumber": "main business phone",
    "CarPhoneNumber": "car phone",
    "Categories": "labels the user gave the contact (Category children)",
    "Category": "one label of the contact",
    "Children": "the contact's children (Child elements)",
    "Child": "name of one child of the contact",
    "CompanyName": "company",
    "CompressedRTF": "notes as compressed RTF (old versions)",
    "Department": "department",
    "Email1Address": "first email address (also in recipient information cache entries)",
    "Email2Address": "second email address",
    "Email3Address": "third email address",
    "FileAs": "name the contact is filed under, usually what is displayed",
    "FirstName": "given name",
    "Home2PhoneNumber": "second home phone",
    "HomeAddressCity": "city of the home address",
    "HomeAddressCountry": "country of the home address",
    "HomeAddressPostalCode": "postal code of the home address",
    "HomeAddressState": "state or region of the home address",
    "HomeAddressStreet": "street of the home address",
    "HomeFaxNumber": "home fax",
    "HomePhoneNumber": "home phone",
    "JobTitle": "job title",
    "LastName": "family name",
    "MiddleName": "middle name",
    "MobilePhoneNumber": "mobile phone",
    "OfficeLocation": "office (room, building)",
    "OtherAddressCity": "city of the other address",
    "OtherAddressCountry": "country of the other address",
    "OtherAddressPostalCode": "postal code of the other address",
    "OtherAddressState": "state or region of the other address",
    "OtherAddressStreet": "street of the other address",
    "PagerNumber": "pager",
    "RadioPhoneNumber": "radio phone",
    "Spouse": "name of the spouse or partner",
    "Suffix": "name suffix (Jr., III...)",
    "Title": "courtesy title (Mr., Dr....)",
    "WebPage": "web site",
    "YomiCompanyName": "phonetic (Japanese) reading of the company name",
    "YomiFirstName": "phonetic (Japanese) reading of the given name",
    "YomiLastName": "phonetic (Japanese) reading of the family name",
    "Picture": "photo of the contact, base64 (at most about 36 KB)",
    "Alias": "the person's alias (recipient information cache only)",
    "WeightedRank": "rank in the recipient information cache: higher means mailed more (cache only)",
})

# MS-ASCNTC 2.2.2 Elements (Contacts2 namespace); names as MS-ASWBXML page 12 spells them
CONTACTS2: Mapping[str, str] = MappingProxyType({
    "CustomerId": "customer id",
    "GovernmentId": "government-issued id",
    "IMAddress": "instant messaging address",
    "IMAddress2": "second instant messaging address",
    "IMAddress3": "third instant messaging address",
    "ManagerName": "the manager, as a directory distinguished name",
    "CompanyMainPhone": "main phone of the company",
    "AccountName": "account name or number",
    "NickName": "nickname",
    "MMS": "MMS (multimedia messaging) address",
})

# Elements that are not properties of their own (containers, old 2.5 body parts, schema misspellings):
# left out when listing which properties a Supported block leaves ghosted.
NOT_GHOSTABLE: frozenset[str] = frozenset({
    "Category", "Child", "Body", "BodySize", "BodyTruncated", "CompressedRTF", "AssistnamePhoneNumber",
    "BusinessPostalCode", "Alias", "WeightedRank",
})
