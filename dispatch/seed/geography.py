"""Reference places for generated data: Moscow and Moscow Oblast regions, localities, streets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locality:
    name: str
    lat: float
    lon: float
    radius_km: float
    # Addresses inside Moscow proper carry no oblast suffix.
    in_moscow: bool = True
    # Real streets of a Moscow district; towns use the streets every Russian town has.
    streets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    avg_speed_kmh: float
    localities: tuple[Locality, ...]


def _m(
    name: str, lat: float, lon: float, radius_km: float = 1.6, *, streets: tuple[str, ...]
) -> Locality:
    return Locality(name, lat, lon, radius_km, in_moscow=True, streets=streets)


def _o(name: str, lat: float, lon: float, radius_km: float = 2.5) -> Locality:
    return Locality(name, lat, lon, radius_km, in_moscow=False)


# The first four regions split Moscow and its near suburbs; the rest are oblast towns for
# larger generated instances. Centres are the districts' and towns' real coordinates.
REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(
        "MSK-C",
        "Moscow Centre",
        18.0,
        (
            _m(
                "Tverskoy",
                55.7690,
                37.6030,
                streets=("Tverskaya ul.", "Novoslobodskaya ul.", "Karetny Ryad ul."),
            ),
            _m(
                "Presnensky",
                55.7600,
                37.5600,
                streets=("Krasnaya Presnya ul.", "Bolshaya Gruzinskaya ul.", "Presnenskaya nab."),
            ),
            _m(
                "Zamoskvorechye",
                55.7370,
                37.6290,
                1.2,
                streets=("Bolshaya Ordynka ul.", "Pyatnitskaya ul.", "Bolshaya Polyanka ul."),
            ),
            _m(
                "Basmanny",
                55.7680,
                37.6650,
                streets=("Pokrovka ul.", "Zemlyanoy Val ul.", "Baumanskaya ul."),
            ),
            _m(
                "Khamovniki",
                55.7280,
                37.5800,
                streets=("Komsomolsky prosp.", "Bolshaya Pirogovskaya ul.", "Frunzenskaya nab."),
            ),
            _m(
                "Arbat",
                55.7500,
                37.5900,
                0.9,
                streets=("Arbat ul.", "Novy Arbat ul.", "Bolshaya Molchanovka ul."),
            ),
            _m(
                "Meshchansky",
                55.7790,
                37.6330,
                1.2,
                streets=("prosp. Mira", "Sretenka ul.", "Olimpiysky prosp."),
            ),
            _m(
                "Taganka",
                55.7390,
                37.6600,
                1.2,
                streets=("Marksistskaya ul.", "Taganskaya ul.", "Nizhnyaya Radishchevskaya ul."),
            ),
        ),
    ),
    RegionSpec(
        "MSK-N",
        "Moscow North",
        27.0,
        (
            _m(
                "Otradnoye",
                55.8610,
                37.6050,
                streets=("Altufyevskoye sh.", "Dekabristov ul.", "Otradnaya ul."),
            ),
            _m(
                "Medvedkovo",
                55.8700,
                37.6600,
                streets=("Shirokaya ul.", "Polyarnaya ul.", "Zapovednaya ul."),
            ),
            _m(
                "Khoroshevo-Mnevniki",
                55.7770,
                37.4850,
                2.0,
                streets=("Marshala Zhukova prosp.", "Narodnogo Opolcheniya ul.", "Mnevniki ul."),
            ),
            _m(
                "Strogino",
                55.8030,
                37.4030,
                streets=("Stroginsky bulv.", "Tallinskaya ul.", "Marshala Katukova ul."),
            ),
            _o("Khimki", 55.8970, 37.4297),
            _o("Dolgoprudny", 55.9386, 37.5021, 2.0),
            _o("Mytishchi", 55.9116, 37.7308),
            _o("Korolyov", 55.9142, 37.8256),
        ),
    ),
    RegionSpec(
        "MSK-S",
        "Moscow South",
        28.0,
        (
            _m(
                "Yuzhnoye Butovo",
                55.5450,
                37.5420,
                2.0,
                streets=("Skobelevskaya ul.", "Admirala Lazareva ul.", "Ushinskogo ul."),
            ),
            _m(
                "Tyoply Stan",
                55.6200,
                37.5000,
                streets=("Profsoyuznaya ul.", "Akademika Vinogradova ul.", "Teplostanskiy proyezd"),
            ),
            _m(
                "Yasenevo",
                55.6060,
                37.5330,
                streets=("Novoyasenevsky prosp.", "Litovsky bulv.", "Vilnyusskaya ul."),
            ),
            _m(
                "Maryino",
                55.6500,
                37.7440,
                streets=("Lyublinskaya ul.", "Bratislavskaya ul.", "Maryinsky Park ul."),
            ),
            _m(
                "Kuntsevo",
                55.7300,
                37.4300,
                streets=("Rublyovskoye sh.", "Yartsevskaya ul.", "Molodogvardeyskaya ul."),
            ),
            _m(
                "Chertanovo",
                55.6180,
                37.5980,
                streets=("Varshavskoye sh.", "Chertanovskaya ul.", "Balaklavsky prosp."),
            ),
            _o("Vidnoye", 55.5528, 37.7090, 2.0),
        ),
    ),
    RegionSpec(
        "MSK-E",
        "Moscow East",
        26.0,
        (
            _m(
                "Izmailovo",
                55.7900,
                37.7800,
                streets=("Izmailovsky prosp.", "Pervomayskaya ul.", "Sirenevy bulv."),
            ),
            _m(
                "Lefortovo",
                55.7580,
                37.7090,
                1.2,
                streets=("Krasnokazarmennaya ul.", "Aviamotornaya ul.", "Lefortovsky Val ul."),
            ),
            _m(
                "Sokolniki",
                55.7920,
                37.6770,
                1.2,
                streets=("Rusakovskaya ul.", "Sokolnichesky Val ul.", "Stromynka ul."),
            ),
            _m(
                "Perovo",
                55.7500,
                37.7870,
                streets=("Zelyony prosp.", "Perovskaya ul.", "Entuziastov sh."),
            ),
            _o("Reutov", 55.7606, 37.8553, 1.5),
            _o("Balashikha", 55.7963, 37.9382),
            _o("Lyubertsy", 55.6783, 37.8932),
        ),
    ),
    RegionSpec(
        "MO-ZEL",
        "Zelenograd and Solnechnogorsk",
        38.0,
        (
            _m(
                "Zelenograd",
                55.9825,
                37.1814,
                3.0,
                streets=("Tsentralny prosp.", "Panfilovsky prosp.", "Moskovsky prosp."),
            ),
            _o("Solnechnogorsk", 56.1850, 36.9770),
            _o("Lobnya", 56.0130, 37.4830),
        ),
    ),
    RegionSpec(
        "MO-POD",
        "Podolsk and Domodedovo",
        40.0,
        (
            _o("Podolsk", 55.4312, 37.5453, 3.0),
            _o("Domodedovo", 55.4363, 37.7664),
            _o("Klimovsk", 55.3650, 37.5300),
            _o("Chekhov", 55.1430, 37.4550),
        ),
    ),
    RegionSpec(
        "MO-ODN",
        "Odintsovo and Krasnogorsk",
        38.0,
        (
            _o("Odintsovo", 55.6780, 37.2777, 3.0),
            _o("Krasnogorsk", 55.8204, 37.3302),
            _o("Zvenigorod", 55.7290, 36.8550),
            _o("Istra", 55.9150, 36.8600),
        ),
    ),
    RegionSpec(
        "MO-NOG",
        "Noginsk and Elektrostal",
        42.0,
        (
            _o("Noginsk", 55.8686, 38.4438),
            _o("Elektrostal", 55.7890, 38.4460),
            _o("Pavlovsky Posad", 55.7810, 38.6560),
        ),
    ),
    RegionSpec(
        "MO-SER",
        "Sergiev Posad and Pushkino",
        42.0,
        (
            _o("Sergiev Posad", 56.3153, 38.1358),
            _o("Pushkino", 56.0100, 37.8470),
            _o("Ivanteyevka", 55.9710, 37.9200),
        ),
    ),
    RegionSpec(
        "MO-KOL",
        "Kolomna and Ramenskoye",
        45.0,
        (
            _o("Kolomna", 55.0794, 38.7783, 3.0),
            _o("Voskresensk", 55.3230, 38.6810),
            _o("Ramenskoye", 55.5670, 38.2300),
        ),
    ),
)

TOWN_STREETS = (
    "Lenina ul.",
    "Sovetskaya ul.",
    "Oktyabrskaya ul.",
    "Gagarina ul.",
    "Mira prosp.",
    "Moskovskaya ul.",
    "Shkolnaya ul.",
    "Sadovaya ul.",
    "Pobedy ul.",
    "Zavodskaya ul.",
    "Kirova ul.",
    "Pushkina ul.",
    "Molodyozhnaya ul.",
    "Vokzalnaya pl.",
    "Promyshlennaya ul.",
)
