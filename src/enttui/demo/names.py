"""The vocabulary of the demo world: French names and a collège's reference tables.

The lists deliberately hold what breaks naive code: accents (Éloïse, Maëlys, Noé), apostrophes
(N'Diaye, Le Floc'h), hyphens (Jean-Baptiste, Martin-Lefèvre), particles (de La Fontaine),
ligatures (Lecœur) and letters without an ASCII decomposition (Yılmaz).
"""

from __future__ import annotations


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated block of names (line breaks are separators too) → a tuple."""
    return tuple(n.strip() for n in text.replace("\n", ",").split(",") if n.strip())


FEMALE_YOUNG: tuple[str, ...] = _names(
    """
    Emma, Jade, Louise, Alice, Chloé, Lina, Léa, Rose, Anna, Mila, Inès, Ambre, Julia, Mia, Léna,
    Manon, Juliette, Lou, Zoé, Camille, Agathe, Jeanne, Lucie, Éva, Nina, Sarah, Romane, Inaya,
    Charlotte, Léonie, Romy, Adèle, Iris, Louna, Clémence, Margaux, Victoire, Alix, Héloïse,
    Maëlys, Éloïse, Capucine, Gabrielle, Nour, Lya, Clara, Lola, Elena, Olivia, Mathilde, Apolline,
    Joséphine, Océane, Anaïs, Maëlle, Noémie, Salomé, Élise, Maïwenn, Anouk, Ysaline, Marie-Lou,
    Lilou, Lana, Elsa, Axelle, Thaïs, Léane, Zélie, Yasmine, Aïcha, Maya, Alma, Lise, Aminata,
    Mariam, Awa, Lyna, Kenza, Assia, Naëlle, Énora, Candice, Philippine, Bérénice, Margot
    """
)

FEMALE_ADULT: tuple[str, ...] = _names(
    """
    Sophie, Nathalie, Isabelle, Sandrine, Valérie, Stéphanie, Céline, Christelle, Karine, Virginie,
    Delphine, Séverine, Laetitia, Caroline, Audrey, Élodie, Mélanie, Marion, Julie, Aurore, Claire,
    Anne, Catherine, Françoise, Sylvie, Martine, Véronique, Agnès, Béatrice, Géraldine, Gaëlle,
    Solène, Nolwenn, Marie-Claire, Anne-Sophie, Anne-Laure, Marie-Ange, Fatoumata, Fatima, Khadija,
    Amel, Leïla, Samia, Soraya, Coralie, Estelle, Fanny, Gwendoline, Ophélie, Perrine, Roxane,
    Tiphaine, Noëlle, Joëlle, Danièle, Mireille, Chantal, Hélène, Cécile, Aurélie, Émilie,
    Amandine, Pauline, Marie, Justine, Laura, Magali, Laurence, Corinne, Murielle, Nadège,
    Annabelle, Bénédicte, Charlène, Jessica, Vanessa, Émeline, Ludivine, Thi Hoa, Ngoc Anh,
    Rachida, Nadia, Malika, Sabrina, Clotilde, Blandine, Ségolène, Armelle, Maryse
    """
)

MALE_YOUNG: tuple[str, ...] = _names(
    """
    Gabriel, Léo, Raphaël, Arthur, Louis, Jules, Adam, Maël, Lucas, Hugo, Noah, Liam, Gabin, Sacha,
    Paul, Nathan, Aaron, Mohamed, Ethan, Tom, Éden, Léon, Noé, Tiago, Théo, Isaac, Marius, Victor,
    Naël, Mathis, Axel, Robin, Timéo, Enzo, Marceau, Valentin, Nino, Eliott, Nolan, Malo, Milo,
    Antoine, Samuel, Augustin, Amir, Yanis, Ibrahim, Baptiste, Gaspard, Mattéo, Timothée, Côme,
    Anatole, Barnabé, Félix, Kylian, Lény, Sélim, Zacharie, Élie, Ulysse, Achille, Hector, Léandre,
    Josué, Mathéo, Ilyès, Anis, Wassim, Idriss, Rayan, Sofiane, Bilal, Youssef, Amine,
    Pierre-Louis, Marc-Antoine, Louis-Marie, Jean-Baptiste, Loïs, Évan, Maxence, Gaétan, Ewen
    """
)

MALE_ADULT: tuple[str, ...] = _names(
    """
    Clément, Maxime, Alexandre, Thomas, Quentin, Romain, Nicolas, Julien, Sébastien, Stéphane,
    Frédéric, Jérôme, Cédric, Guillaume, Olivier, Christophe, Laurent, Éric, Thierry, Philippe,
    Pascal, Patrick, Didier, Bruno, Franck, Grégory, Mickaël, Anthony, Jérémy, Kévin, Florian,
    Benjamin, Vincent, François, Jean, Pierre, Jacques, Michel, Bernard, Alain, Gérard, Joël, Noël,
    Loïc, Gaël, Yannick, Erwan, Ronan, Gwenaël, Killian, Édouard, Étienne, Rémi, Aurélien, Cyril,
    Damien, Fabien, Hervé, Jean-Pierre, Jean-Marc, Jean-Luc, Paul-Henri, Jean-Baptiste, Mamadou,
    Moussa, Ousmane, Abdoulaye, Karim, Mehdi, Rachid, Nabil, Farid, Hakim, Samir, Arnaud, Benoît,
    Denis, Emmanuel, Fabrice, Gilles, Hugues, Jean-François, Lionel, Mathieu, Régis, Sylvain,
    Tanguy, Xavier, Yves, Van Long, Duc Minh, Serge
    """
)

LAST_NAMES: tuple[str, ...] = _names(
    """
    Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Dubois, Moreau, Laurent, Simon,
    Michel, Lefèvre, Leroy, Roux, David, Bertrand, Morel, Fournier, Girard, Bonnet, Dupont,
    Lambert, Fontaine, Rousseau, Vincent, Muller, Lefebvre, Faure, André, Mercier, Blanc, Guérin,
    Boyer, Garnier, Chevalier, François, Legrand, Gauthier, Garcia, Perrin, Robin, Clément, Morin,
    Nicolas, Henry, Roussel, Mathieu, Gautier, Masson, Marchand, Duval, Denis, Dumont, Marie,
    Lemaire, Noël, Meyer, Dufour, Meunier, Brun, Blanchard, Giraud, Joly, Rivière, Lucas, Brunet,
    Gaillard, Barbier, Arnaud, Martinez, Gérard, Roche, Renard, Schmitt, Roy, Leroux, Colin, Vidal,
    Caron, Picard, Roger, Fabre, Aubert, Lemoine, Renaud, Dumas, Lacroix, Olivier, Philippe,
    Bourgeois, Pierre, Benoît, Rey, Leclerc, Payet, Rolland, Leclercq, Guillaume, Lecomte, Lopez,
    Jean, Dupuy, Guillot, Hubert, Berger, Carpentier, Sanchez, Dupuis, Moulin, Louis, Deschamps,
    Huet, Vasseur, Perez, Boucher, Fleury, Royer, Klein, Jacquet, Adam, Paris, Poirier, Marty,
    Aubry, Guyot, Carré, Charles, Renault, Charpentier, Ménard, Maillard, Baron, Bertin, Bailly,
    Hervé, Schneider, Fernandez, Le Gall, Collet, Léger, Bouvier, Julien, Prévost, Millet, Perrot,
    Daniel, Le Roux, Cousin, Germain, Breton, Besson, Langlois, Rémy, Le Goff, Pelletier, Lévêque,
    Perrier, Leblanc, Barré, Lebrun, Marchal, Weber, Mallet, Hamon, Boulanger, Jacob, Monnier,
    Michaud, Rodriguez, Guichard, Gillet, Étienne, Grondin, Poulain, Tessier, Chevallier, Collin,
    Chauvin, Da Silva, Bouchet, Gay, Lemaître, Bénard, Maréchal, Humbert, Reynaud, Antoine, Hoarau,
    Perret, Barthélemy, Cordier, Pichon, Lejeune, Gilbert, Lamy, Delaunay, Pasquier, Carlier,
    Laporte, N'Diaye, D'Almeida, L'Hôte, Diallo, Traoré, Koné, Camara, Sy, Ba, Benali, Haddad,
    Mansouri, Belkacem, Cherif, Nguyen, Tran, Pham, Dos Santos, Ferreira, Pereira, Rodrigues,
    Gonçalves, Oliveira, de La Fontaine, de Lattre, Le Bihan, Le Floc'h, Le Guen, Quéré, Kerhervé,
    Saint-Martin, Martin-Lefèvre, Durand-Chevalier, Lambert-Morel, Dupont-Aignan, Lecœur, Çelik,
    Öztürk, Yılmaz, Müller, Hoël, Besançon, Gueguen, Le Meur, Kervella, Tanguy, Jégou, Lagadec,
    Corre, Riou, Salaün, Abgrall, Ollivier, Barbe, Bouvet, Chauveau, Devaux, Drouet, Ferrand,
    Gaudin, Godard, Hamel, Joubert, Labbé, Lacombe, Lebon, Leduc, Marais, Mouton, Normand, Pineau,
    Raynaud, Texier, Vallée, Villard, Bousquet, Cazenave, Etcheverry, Irigoyen, Agostini, Santoni
    """
)

SCHOOL_NAMES: tuple[str, ...] = _names(
    """
    Collège Jean Moulin, Collège Victor Hugo, Collège Louise Michel, Collège Marie Curie,
    Collège Jules Ferry, Collège Simone Veil, Collège Albert Camus, Collège Jean Jaurès,
    Collège Anne Frank, Collège Pierre et Marie Curie, Collège Françoise Dolto,
    Collège Jacques Prévert
    """
)

# -- reference tables of a collège -------------------------------------------------------------
LEVELS: tuple[str, ...] = ("6", "5", "4", "3")
MEF: dict[str, tuple[str, str]] = {
    "6": ("10010012110", "6EME"),
    "5": ("10110001110", "5EME"),
    "4": ("10210001110", "4EME"),
    "3": ("10310019110", "3EME"),
}
# (code, label, share of the teachers): the usual collège timetable.
SUBJECTS: tuple[tuple[str, str, int], ...] = (
    ("L0202", "LETTRES MODERNES", 7),
    ("L1300", "MATHEMATIQUES", 7),
    ("L1000", "HISTOIRE GEOGRAPHIE", 5),
    ("L0422", "ANGLAIS", 5),
    ("L1900", "EDUCATION PHYSIQUE ET SPORTIVE", 4),
    ("L0426", "ESPAGNOL", 3),
    ("L1600", "SCIENCES VIE ET TERRE", 3),
    ("L1500", "PHYSIQUE CHIMIE", 3),
    ("L1400", "TECHNOLOGIE", 3),
    ("L0421", "ALLEMAND", 2),
    ("L1800", "ARTS PLASTIQUES", 2),
    ("L1700", "EDUCATION MUSICALE", 2),
    ("L0201", "LETTRES CLASSIQUES", 2),
)
# (name, levels, share of those levels' students, subject of the teacher in charge)
GROUPS: tuple[tuple[str, tuple[str, ...], float, str], ...] = (
    ("LATIN", ("5", "4", "3"), 0.15, "L0201"),
    ("ANGLAIS-EURO", ("4", "3"), 0.10, "L0422"),
    ("CHORALE", LEVELS, 0.04, "L1700"),
)
# (function code, label, profile, service, title): the first ones are placed first, then AED/agents.
STAFF_ROLES: tuple[tuple[str, str, str, str, str], ...] = (
    ("DIR", "PERSONNEL DE DIRECTION", "National_DIR", "Direction", "Principal"),
    ("DIR", "PERSONNEL DE DIRECTION", "National_DIR", "Direction", "Principal adjoint"),
    ("EDU", "EDUCATION", "National_EVS", "Vie scolaire", "Conseiller principal d'éducation"),
    ("ADF", "ADMINISTRATION ET FINANCES", "National_ETA", "Intendance", "Gestionnaire"),
    ("ADF", "ADMINISTRATION ET FINANCES", "National_ETA", "Secrétariat", "Secrétaire de direction"),
    ("MDS", "MEDICO-SOCIAL", "National_ETA", "Infirmerie", "Infirmier"),
)
STAFF_AED = ("EDU", "EDUCATION", "National_EVS", "Vie scolaire", "Assistant d'éducation")
STAFF_AGENT = ("OUV", "PERSONNEL OUVRIER", "National_ETA", "Service général", "Agent")
OTHER_ROLES: tuple[str, ...] = (
    "Intervenant théâtre",
    "Assistant de langue",
    "Tuteur de stage",
    "Volontaire en service civique",
    "Intervenant sécurité routière",
    "Animateur numérique",
    "Conseiller d'orientation",
    "Intervenant musique",
    "Compte de remplacement",
)
ENT_DOMAIN = "ent-gris.example"
ACADEMY_DOMAIN = "ac-gris.example"
PARENT_DOMAINS = ("laposte.example", "orange.example", "free.example", "gmail.example", "sfr.example")
OTHER_DOMAINS = ("asso-culture.example", "mairie.example", "entreprise.example")
