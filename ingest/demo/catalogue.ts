/** The fixed part of the demo world: real destinations of the platform's markets. */
export interface DemoDestination {
  id: string;
  name: string;
  countryCode: string;
  country: string;
  city: string;
  latitude: number;
  longitude: number;
}

export const DESTINATIONS: readonly DemoDestination[] = [
  { id: 'DEST001', name: 'Ha Long Bay', countryCode: 'VN', country: 'Vietnam', city: 'Ha Long', latitude: 20.9101, longitude: 107.1839 },
  { id: 'DEST002', name: 'Hoi An Ancient Town', countryCode: 'VN', country: 'Vietnam', city: 'Hoi An', latitude: 15.8801, longitude: 108.338 },
  { id: 'DEST003', name: 'Hanoi Old Quarter', countryCode: 'VN', country: 'Vietnam', city: 'Hanoi', latitude: 21.0341, longitude: 105.8516 },
  { id: 'DEST004', name: 'Phu Quoc Island', countryCode: 'VN', country: 'Vietnam', city: 'Phu Quoc', latitude: 10.2899, longitude: 103.984 },
  { id: 'DEST005', name: 'Sapa Rice Terraces', countryCode: 'VN', country: 'Vietnam', city: 'Sa Pa', latitude: 22.3364, longitude: 103.8438 },
  { id: 'DEST006', name: 'Mekong Delta', countryCode: 'VN', country: 'Vietnam', city: 'Can Tho', latitude: 10.0452, longitude: 105.7469 },
  { id: 'DEST007', name: 'Bangkok', countryCode: 'TH', country: 'Thailand', city: 'Bangkok', latitude: 13.7563, longitude: 100.5018 },
  { id: 'DEST008', name: 'Chiang Mai', countryCode: 'TH', country: 'Thailand', city: 'Chiang Mai', latitude: 18.7883, longitude: 98.9853 },
  { id: 'DEST009', name: 'Phuket', countryCode: 'TH', country: 'Thailand', city: 'Phuket', latitude: 7.8804, longitude: 98.3923 },
  { id: 'DEST010', name: 'Krabi', countryCode: 'TH', country: 'Thailand', city: 'Krabi', latitude: 8.0863, longitude: 98.9063 },
  { id: 'DEST011', name: 'Kyoto', countryCode: 'JP', country: 'Japan', city: 'Kyoto', latitude: 35.0116, longitude: 135.7681 },
  { id: 'DEST012', name: 'Tokyo', countryCode: 'JP', country: 'Japan', city: 'Tokyo', latitude: 35.6762, longitude: 139.6503 },
  { id: 'DEST013', name: 'Hokkaido', countryCode: 'JP', country: 'Japan', city: 'Sapporo', latitude: 43.0618, longitude: 141.3545 },
  { id: 'DEST014', name: 'Mount Fuji', countryCode: 'JP', country: 'Japan', city: 'Fujiyoshida', latitude: 35.3606, longitude: 138.7274 },
  { id: 'DEST015', name: 'Bali', countryCode: 'ID', country: 'Indonesia', city: 'Ubud', latitude: -8.5069, longitude: 115.2625 },
  { id: 'DEST016', name: 'Komodo', countryCode: 'ID', country: 'Indonesia', city: 'Labuan Bajo', latitude: -8.4539, longitude: 119.8897 },
  { id: 'DEST017', name: 'Yogyakarta', countryCode: 'ID', country: 'Indonesia', city: 'Yogyakarta', latitude: -7.7956, longitude: 110.3695 },
  { id: 'DEST018', name: 'Maldives Atolls', countryCode: 'MV', country: 'Maldives', city: 'Malé', latitude: 4.1755, longitude: 73.5093 },
  { id: 'DEST019', name: 'Maafushi', countryCode: 'MV', country: 'Maldives', city: 'Maafushi', latitude: 3.9426, longitude: 73.49 },
  { id: 'DEST020', name: 'Siem Reap', countryCode: 'KH', country: 'Cambodia', city: 'Siem Reap', latitude: 13.3671, longitude: 103.8448 },
  { id: 'DEST021', name: 'Singapore', countryCode: 'SG', country: 'Singapore', city: 'Singapore', latitude: 1.3521, longitude: 103.8198 },
  { id: 'DEST022', name: 'Luang Prabang', countryCode: 'LA', country: 'Laos', city: 'Luang Prabang', latitude: 19.8856, longitude: 102.1347 },
];

export interface DemoCategory {
  name: string;
  nouns: readonly string[];
  tags: readonly string[];
  basePrice: number;
  phrases: readonly string[];
}

export const CATEGORIES: readonly DemoCategory[] = [
  { name: 'cruise', nouns: ['Cruise', 'Boat Trip', 'Sailing'], tags: ['water', 'overnight', 'scenic'], basePrice: 320, phrases: ['a slow cruise past limestone karsts', 'sunset on deck with fresh seafood', 'kayaking into hidden lagoons'] },
  { name: 'food', nouns: ['Food Tour', 'Street Food Walk', 'Cooking Class'], tags: ['food', 'local', 'evening'], basePrice: 60, phrases: ['street food stalls only locals know', 'a market visit and a hands-on cooking class', 'noodles, herbs and night markets'] },
  { name: 'culture', nouns: ['Heritage Walk', 'Temple Tour', 'Cultural Day'], tags: ['history', 'temples', 'walking'], basePrice: 80, phrases: ['ancient temples and quiet pagodas', 'the stories of an old trading port', 'lantern-lit streets and craft workshops'] },
  { name: 'adventure', nouns: ['Adventure', 'Canyoning Trip', 'Jungle Expedition'], tags: ['outdoor', 'active', 'nature'], basePrice: 180, phrases: ['zip lines, caves and waterfalls', 'a jungle trek to a hidden waterfall', 'rock climbing above the sea'] },
  { name: 'beach', nouns: ['Island Hopping', 'Beach Escape', 'Snorkelling Day'], tags: ['beach', 'snorkelling', 'family'], basePrice: 140, phrases: ['white sand and turquoise water', 'snorkelling over coral gardens', 'hopping between quiet islands'] },
  { name: 'trekking', nouns: ['Trek', 'Hiking Tour', 'Mountain Trail'], tags: ['hiking', 'mountains', 'homestay'], basePrice: 150, phrases: ['rice terraces and hill-tribe villages', 'a sunrise summit hike', 'a homestay with a mountain family'] },
  { name: 'city', nouns: ['City Tour', 'Night Tour', 'Highlights Tour'], tags: ['city', 'photography', 'evening'], basePrice: 50, phrases: ['rooftop views and neon streets', 'the city highlights in one day', 'night markets by tuk-tuk'] },
  { name: 'wellness', nouns: ['Wellness Retreat', 'Yoga Retreat', 'Spa Escape'], tags: ['wellness', 'yoga', 'relaxing'], basePrice: 400, phrases: ['morning yoga over the rice fields', 'a traditional spa and herbal baths', 'silent mornings and healthy food'] },
  { name: 'wildlife', nouns: ['Wildlife Safari', 'Dragon Trek', 'Nature Reserve Visit'], tags: ['wildlife', 'nature', 'guided'], basePrice: 220, phrases: ['dragons, mantas and pink beaches', 'elephants in an ethical sanctuary', 'birdwatching in the wetlands'] },
];

export const ADJECTIVES = ['Sunrise', 'Hidden', 'Classic', 'Grand', 'Secret', 'Private', 'Authentic', 'Wild', 'Golden', 'Twilight', 'Essential', 'Deluxe'] as const;

export const CURRENCY = 'USD';
export const SOURCES = ['web', 'mobile', 'partner'] as const;
